package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestDefaultMasterCF(t *testing.T) {
	services, err := ParseMaster("built-in", DefaultMasterCF)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, s := range services {
		have[s.Name+"/"+s.Type] = true
	}
	for _, want := range []string{"smtp/inet", "pickup/unix", "cleanup/unix", "qmgr/unix", "rewrite/unix",
		"bounce/unix", "defer/unix", "trace/unix", "verify/unix", "flush/unix", "smtp/unix", "relay/unix",
		"showq/unix", "error/unix", "retry/unix", "discard/unix", "local/unix", "virtual/unix", "lmtp/unix",
		"anvil/unix", "scache/unix"} {
		if !have[want] {
			t.Errorf("default master.cf lacks %s", want)
		}
	}
}

// The standard submission entry, uncommented, with its -o lines.
const submissionCF = `submission inet n       -       y       -       -       smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
  -o smtpd_reject_unlisted_recipient=no
#     Instead of specifying complex smtpd_<xxx>_restrictions here,
  -o smtpd_client_restrictions=
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o milter_macro_daemon_name=ORIGINATING
127.0.0.1:2525 inet n - n - 10 smtpd -v -o{ smtpd_banner = hello world } -o smtpd_timeout=30s
[::1]:smtps inet n - n - - smtpd -vo smtpd_tls_wrappermode=yes
maildrop  unix  -       n       n       -       -       pipe
  flags=DRXhu user=vmail argv=/usr/bin/maildrop -d ${recipient} {a b}
flush     unix  n       -       n       1000?   0       flush
`

func TestParseMaster(t *testing.T) {
	services, err := ParseMaster("master.cf", submissionCF)
	if err != nil {
		t.Fatal(err)
	}
	if len(services) != 5 {
		t.Fatalf("got %d services", len(services))
	}
	sub := services[0]
	if sub.Name != "submission" || sub.Type != "inet" || sub.Private || !sub.Unpriv || !sub.Chroot ||
		sub.Command != "smtpd" || sub.Port != "submission" || sub.Host != "" || sub.Maxproc != -1 || sub.Line != 1 {
		t.Errorf("submission = %+v", sub)
	}
	wantO := map[string]string{
		"syslog_name": "postfix/submission", "smtpd_tls_security_level": "encrypt",
		"smtpd_sasl_auth_enable": "yes", "smtpd_tls_auth_only": "yes",
		"smtpd_reject_unlisted_recipient": "no", "smtpd_client_restrictions": "",
		"smtpd_relay_restrictions": "permit_sasl_authenticated,reject", "milter_macro_daemon_name": "ORIGINATING",
	}
	if !reflect.DeepEqual(sub.Overrides, wantO) {
		t.Errorf("overrides = %q", sub.Overrides)
	}
	alt := services[1]
	if alt.Host != "127.0.0.1" || alt.Port != "2525" || alt.Maxproc != 10 || alt.Chroot ||
		!reflect.DeepEqual(alt.Options, []string{"-v"}) ||
		alt.Overrides["smtpd_banner"] != "hello world" || alt.Overrides["smtpd_timeout"] != "30s" {
		t.Errorf("alt = %+v", alt)
	}
	v6 := services[2]
	if v6.Host != "::1" || v6.Port != "smtps" || v6.Overrides["smtpd_tls_wrappermode"] != "yes" || !reflect.DeepEqual(v6.Options, []string{"-v"}) {
		t.Errorf("v6 = %+v", v6)
	}
	md := services[3]
	if md.Command != "pipe" || !reflect.DeepEqual(md.Args, []string{"flags=DRXhu", "user=vmail", "argv=/usr/bin/maildrop", "-d", "${recipient}", "a b"}) || md.Unpriv {
		t.Errorf("maildrop = %+v", md)
	}
	fl := services[4]
	if fl.Wakeup != 1000 || !fl.WakeupIfUsed || fl.Maxproc != 0 {
		t.Errorf("flush = %+v", fl)
	}
	if got := md.Format(false, nil); got != "maildrop   unix  -       n       n       -       -       pipe flags=DRXhu user=vmail argv=/usr/bin/maildrop -d ${recipient} {a b}\n" {
		t.Errorf("Format = %q", got)
	}
}

func TestParseMasterErrors(t *testing.T) {
	tests := []struct{ text, want string }{
		{"smtp inet n - n - -\n", "master.cf, line 1: bad field count"},
		{"# c\nsmtp tcp n - n - - smtpd\n", "master.cf, line 2: invalid type field \"tcp\""},
		{"smtp inet x - n - - smtpd\n", "invalid private field \"x\""},
		{"smtp inet n yes n - - smtpd\n", "invalid unpriv field"},
		{"smtp inet n - n 1m - smtpd\n", "invalid wakeup field \"1m\""},
		{"smtp inet n - n - lots smtpd\n", "invalid maxproc field \"lots\""},
		{"smtp inet n - n - - smtpd -o\n", "-o without name=value"},
		{"smtp inet n - n - - smtpd -o foo\n", "missing '='"},
		{"smtp inet n - n - - smtpd {a\n", "unbalanced {}"},
		{"smtp inet n - n - - smtpd\nsmtp inet n - n - - smtpd\n", "line 2: duplicate service smtp/inet (first at line 1)"},
	}
	for _, tt := range tests {
		_, err := ParseMaster("master.cf", tt.text)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error = %v, want %q", tt.text, err, tt.want)
		}
	}
}

func TestServiceConfig(t *testing.T) {
	services, err := ParseMaster("built-in", DefaultMasterCF)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := loadText(t, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range services {
		if s.Name != "relay" {
			continue
		}
		sc, err := s.Config(c)
		if err != nil {
			t.Fatal(err)
		}
		if got := sc.Get("syslog_name"); got != "mailhorn/relay" {
			t.Errorf("relay syslog_name = %q", got)
		}
		if got := s.ProcessLimit(c); got != 100 {
			t.Errorf("relay process limit = %d", got)
		}
	}
}
