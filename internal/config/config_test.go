package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDir(t *testing.T) {
	env := func(v string) func(string) string { return func(string) string { return v } }
	if got := Dir("/x", env("/y")); got != "/x" {
		t.Errorf("flag: %q", got)
	}
	if got := Dir("", env("/y")); got != "/y" {
		t.Errorf("env: %q", got)
	}
	if got := Dir("", env("")); got != DefaultDir {
		t.Errorf("default: %q", got)
	}
}

func TestRegistryNoDuplicates(t *testing.T) {
	if d := duplicateParams(); len(d) > 0 {
		t.Errorf("parameters declared more than once: %v", d)
	}
	for _, p := range Params() {
		if p.Doc == "" {
			t.Errorf("%s has no description", p.Name)
		}
		if p.Type == Duration && p.Unit == 0 {
			t.Errorf("%s is a time without a default unit", p.Name)
		}
	}
}

// An empty main.cf gives a working local system with modern defaults. The
// values that differ from Postfix's built-in ones are deliberate (see
// TestDefaultsMatchPostfix).
func TestEmptyMainCF(t *testing.T) {
	c, warnings, err := loadText(t, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %q", warnings)
	}
	want := map[string]string{
		"myhostname":               "box.localdomain",
		"mydomain":                 "localdomain",
		"myorigin":                 "box.localdomain",
		"mydestination":            "box.localdomain, localhost.localdomain, localhost",
		"mynetworks_style":         "host",
		"mynetworks":               "127.0.0.1/32 192.0.2.7/32 172.16.1.2/32 [::1]/128 [2001:db8::5]/128",
		"smtputf8_enable":          "yes",
		"compatibility_level":      "3.6",
		"smtpd_banner":             "box.localdomain ESMTP mailhorn",
		"smtpd_timeout":            "300s",
		"smtpd_relay_restrictions": "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
		"queue_directory":          "/var/spool/mailhorn",
		"syslog_name":              "mailhorn",
		"mail_owner":               "mailhorn",
	}
	for name, v := range want {
		if got := c.Get(name); got != v {
			t.Errorf("%s = %q, want %q", name, got, v)
		}
	}
	if got := c.Duration("maximal_queue_lifetime"); got != 5*24*time.Hour {
		t.Errorf("maximal_queue_lifetime = %v", got)
	}
	if got := c.Size("message_size_limit"); got != 10240000 {
		t.Errorf("message_size_limit = %d", got)
	}
	if !c.Bool("biff") || !c.Bool("disable_vrfy_command") {
		t.Errorf("bools wrong")
	}
	if got := c.Int("smtpd_hard_error_limit"); got != 20 {
		t.Errorf("smtpd_hard_error_limit = %d", got)
	}
}

func TestComputedDefaults(t *testing.T) {
	tests := []struct{ hostname, mainCF, name, want string }{
		{"box", "", "myhostname", "box.localdomain"},
		{"mail.example.com", "", "mydomain", "example.com"},
		{"box", "myhostname = a.example.org", "mydomain", "example.org"},
		{"box", "myhostname = host.com", "mydomain", "com"},
		{"box", "myhostname = host", "mydomain", "localdomain"},
		{"box", "mynetworks_style = subnet", "mynetworks", "127.0.0.0/8 192.0.2.0/24 172.16.0.0/12 [::1]/128 [2001:db8::]/64"},
		{"box", "mynetworks_style = class", "mynetworks", "127.0.0.0/8 192.0.2.0/24 172.16.0.0/16 [::1]/128 [2001:db8::]/64"},
		{"box", "compatibility_level = 0", "mynetworks_style", "subnet"},
		{"box", "inet_protocols = ipv4", "mynetworks", "127.0.0.1/32 192.0.2.7/32 172.16.1.2/32"},
	}
	for _, tt := range tests {
		dir := writeDir(t, tt.mainCF, "")
		c, err := load(dir, fakeHost(tt.hostname), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Get(tt.name); got != tt.want {
			t.Errorf("host %s, %q: %s = %q, want %q", tt.hostname, tt.mainCF, tt.name, got, tt.want)
		}
	}
}

func TestLoadSyntax(t *testing.T) {
	text := `# comment
myorigin = a
mydestination = $myhostname,
  localhost,
# comment inside the entry
    example.org

  example.net
relayhost=[x]:25   
  # indented comment
myorigin = b
`
	c, warnings, err := loadText(t, text)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Get("mydestination"); got != "box.localdomain, localhost, example.org example.net" {
		t.Errorf("mydestination = %q", got)
	}
	if got := c.Get("relayhost"); got != "[x]:25" {
		t.Errorf("relayhost = %q", got)
	}
	if got := c.Get("myorigin"); got != "b" {
		t.Errorf("myorigin = %q", got)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "main.cf, line 11: overriding earlier entry: myorigin=a") {
		t.Errorf("warnings = %q", warnings)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct{ text, want string }{
		{"myorigin = a\nbogus line\n", "main.cf, line 2: missing '=' after attribute name: \"bogus line\""},
		{"=x\n", "main.cf, line 1: missing attribute name"},
		{"foo bar = x\n", "main.cf, line 1: missing '='"},
		{"\n\nmessage_size_limit = ten\n", "main.cf, line 3: bad numerical configuration: message_size_limit = ten"},
		{"biff = maybe\n", "main.cf, line 1: bad boolean configuration: biff = maybe"},
		{"smtpd_timeout = 5x\n", "main.cf, line 1: bad time configuration: smtpd_timeout = 5x"},
		{"hopcount_limit = 1.5\n", "main.cf, line 1: bad numerical configuration: hopcount_limit"},
		{"smtpd_forbid_bare_newline = maybe\n", "main.cf, line 1: bad configuration: smtpd_forbid_bare_newline = maybe (expected one of: normalize, yes, reject, no)"},
		{"x = $y\ny = $x\nmyorigin = $x\n", "parameter loop"},
		{"myorigin = ${a b}\n", "main.cf, line 1: myorigin: attribute name syntax error"},
		{"foo = 10x\nmessage_size_limit = $foo\n", "main.cf, line 2: bad numerical configuration: message_size_limit = 10x"},
	}
	for _, tt := range tests {
		_, _, err := loadText(t, tt.text)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error = %v, want %q", tt.text, err, tt.want)
		}
	}
}

func TestTypedValues(t *testing.T) {
	c, _, err := loadText(t, "smtpd_timeout = 2m\nmaximal_queue_lifetime = 3\nbiff = NO\ndelay_warning_time = 4h\nqueue_run_delay = 1w\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Duration("smtpd_timeout"); got != 2*time.Minute {
		t.Errorf("smtpd_timeout = %v", got)
	}
	if got := c.Duration("maximal_queue_lifetime"); got != 3*24*time.Hour {
		t.Errorf("maximal_queue_lifetime (default unit d) = %v", got)
	}
	if got := c.Duration("queue_run_delay"); got != 7*24*time.Hour {
		t.Errorf("queue_run_delay = %v", got)
	}
	if c.Bool("biff") {
		t.Errorf("biff = NO read as true")
	}
}

func TestUnusedWarnings(t *testing.T) {
	text := `mua_sender_restrictions = permit_sasl_authenticated, reject
smtpd_sender_restrictions = $mua_sender_restrictions
base = /srv/mail
virtual_mailbox_base = ${base?{$base}:{/var/mail}}
smtpd_restriction_classes = from_trusted
from_trusted = permit_mynetworks, reject
orphan = value
relay_destination_concurrency_limit = 5
mailbox_command = /usr/bin/procmail -a "$EXTENSION"
`
	c, warnings, err := loadText(t, text)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"main.cf, line 7: unused parameter: orphan=value"}
	if len(warnings) != 1 || !strings.HasSuffix(warnings[0], want[0]) {
		t.Errorf("warnings = %q, want %q", warnings, want)
	}
	if c.Known("orphan") || !c.Known("base") || !c.Known("relay_destination_concurrency_limit") {
		t.Errorf("Known wrong")
	}
	// Raw parameters are not expanded.
	if got := c.Get("mailbox_command"); got != `/usr/bin/procmail -a "$EXTENSION"` {
		t.Errorf("mailbox_command = %q", got)
	}
	if got := c.Int("relay_destination_concurrency_limit"); got != 5 {
		t.Errorf("relay_destination_concurrency_limit = %d", got)
	}
	if got := c.Int("smtp_destination_concurrency_limit"); got != 20 {
		t.Errorf("smtp_destination_concurrency_limit = %d", got)
	}
}

func TestList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a, b c,,d\n\te", []string{"a", "b", "c", "d", "e"}},
		{"inline:{a=b, c=d}, hash:/x", []string{"inline:{a=b, c=d}", "hash:/x"}},
		{"check_policy_service { unix:private/policy, default_action=DUNNO }, permit", []string{"check_policy_service", "{ unix:private/policy, default_action=DUNNO }", "permit"}},
	}
	for _, tt := range tests {
		if got := splitList(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitList(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestOverride(t *testing.T) {
	c, _, err := loadText(t, "myhostname = h.example\nsmtpd_banner = $myhostname hi\n")
	if err != nil {
		t.Fatal(err)
	}
	o, err := c.Override(map[string]string{"myhostname": "o.example", "syslog_name": "mailhorn/$service_name"})
	if err != nil {
		t.Fatal(err)
	}
	if got := o.Get("smtpd_banner"); got != "o.example hi" {
		t.Errorf("overridden smtpd_banner = %q", got)
	}
	if got := c.Get("smtpd_banner"); got != "h.example hi" {
		t.Errorf("original changed: %q", got)
	}
	if _, err := c.Override(map[string]string{"message_size_limit": "big"}); err == nil {
		t.Errorf("bad override accepted")
	}
}

func TestFromMap(t *testing.T) {
	c, err := FromMap(map[string]string{"myhostname": "m.example", "message_size_limit": "5"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Get("myorigin") != "m.example" || c.Size("message_size_limit") != 5 {
		t.Errorf("FromMap values wrong")
	}
	if _, err := FromMap(map[string]string{"biff": "perhaps"}); err == nil {
		t.Errorf("bad value accepted")
	}
}
