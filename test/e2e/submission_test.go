package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Submission (issue 6): the MSA. Postfix's standard submission and smtps
// entries of master.cf, verbatim but for the port; a certificate from
// `mailhorn tls selfsigned`, users from `mailhorn user add`; real clients
// (swaks, msmtp, s-nail) log in and send.

// submissionCF is the submission (587) and smtps (465) entries of
// Postfix's master.cf as Debian ships them, the service names replaced by
// loopback ports: %[1]d the submission port, %[2]d the smtps port.
const submissionCF = `127.0.0.1:%[1]d inet n       -       y       -       -       smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
  -o smtpd_reject_unlisted_recipient=no
  -o smtpd_client_restrictions=$mua_client_restrictions
  -o smtpd_helo_restrictions=$mua_helo_restrictions
  -o smtpd_sender_restrictions=$mua_sender_restrictions
  -o smtpd_recipient_restrictions=
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o milter_macro_daemon_name=ORIGINATING
127.0.0.1:%[2]d     inet  n       -       y       -       -       smtpd
  -o syslog_name=postfix/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_reject_unlisted_recipient=no
  -o smtpd_client_restrictions=$mua_client_restrictions
  -o smtpd_helo_restrictions=$mua_helo_restrictions
  -o smtpd_sender_restrictions=$mua_sender_restrictions
  -o smtpd_recipient_restrictions=
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o milter_macro_daemon_name=ORIGINATING
`

// submissionMainCF is what a Postfix administrator puts in main.cf for
// those entries.
const submissionMainCF = `
mua_client_restrictions = permit_sasl_authenticated, reject
mua_helo_restrictions = permit_mynetworks, reject_non_fqdn_helo_hostname, reject_invalid_helo_hostname, permit
mua_sender_restrictions = permit_mynetworks, reject_non_fqdn_sender, permit
`

// enableAuth gives a system a self-signed certificate (mailhorn tls
// selfsigned, for mail.example.test, localhost and 127.0.0.1), a
// passwd-file of virtual users made with mailhorn user add, a small
// auth_failure_delay, and extra main.cf lines. It returns a TLS client
// configuration that trusts the certificate.
func (s *system) enableAuth(users map[string]string, extra string) *tls.Config {
	s.t.Helper()
	cert, key, file := s.path("etc/cert.pem"), s.path("etc/key.pem"), s.path("etc/users")
	s.appendMainCF(fmt.Sprintf(`smtpd_tls_cert_file = %s
smtpd_tls_key_file = %s
smtpd_tls_security_level = may
auth_user_maps = passwd-file:%s
auth_failure_delay = 1s
%s`, cert, key, file, extra))
	// As root would: the administrator runs these, then hands the
	// secrets to the mail system's account.
	out, err := exec.Command(mailhornBin, "tls", "selfsigned", "-c", s.etc, "-cert", cert, "-key", key,
		"-host", "mail."+domain+",localhost,127.0.0.1").CombinedOutput()
	if err != nil {
		s.t.Fatalf("mailhorn tls selfsigned: %v\n%s", err, out)
	}
	for name, pw := range users {
		cmd := exec.Command(mailhornBin, "user", "add", name, "-c", s.etc)
		cmd.Stdin = strings.NewReader(pw + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			s.t.Fatalf("mailhorn user add %s: %v\n%s", name, err, out)
		}
	}
	for _, f := range []string{key, file} {
		if err := os.Chown(f, runAs.uid, runAs.gid); err != nil {
			s.t.Fatal(err)
		}
	}
	pem, err := os.ReadFile(cert)
	if err != nil {
		s.t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		s.t.Fatalf("%s holds no certificate:\n%s", cert, pem)
	}
	return &tls.Config{RootCAs: roots, ServerName: "mail." + domain}
}

// authPlain is the AUTH PLAIN command with its initial response.
func authPlain(user, password string) string {
	return "AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+password))
}

// submissionSystem is a system with the standard submission entries on
// two more ports, users alice and bob with the demo's passwords.
func submissionSystem(t *testing.T, extra string) (s *system, sub, smtps int, tlsConf *tls.Config) {
	t.Helper()
	s = newSystem(t, options{})
	tlsConf = s.enableAuth(map[string]string{
		"alice@" + domain: "alice-demo-password",
		"bob@" + domain:   "bob-demo-password",
	}, submissionMainCF+extra)
	sub, smtps = freePort(t), freePort(t)
	s.addService(fmt.Sprintf(submissionCF, sub, smtps))
	s.start()
	waitListening(t, "127.0.0.1:"+strconv.Itoa(sub), nil)
	waitListening(t, "127.0.0.1:"+strconv.Itoa(smtps), nil)
	return s, sub, smtps, tlsConf
}

// TestSubmission: swaks, msmtp and s-nail log in on the submission port
// (STARTTLS) and the smtps port (TLS from the start) and send; the
// messages arrive groomed as an MSA must (Message-ID and Date added, Bcc
// gone, the sender as given, the Received header naming the user only
// with smtpd_sasl_authenticated_header = yes, on a third port here). Before
// STARTTLS there is no AUTH; a wrong password gets 535 5.7.8.
func TestSubmission(t *testing.T) {
	t.Parallel()
	swaks := needTool(t, "swaks")
	msmtp := needTool(t, "msmtp")
	snail := needTool(t, "s-nail")
	s := newSystem(t, options{})
	tlsConf := s.enableAuth(map[string]string{
		"alice@" + domain: "alice-demo-password",
		"bob@" + domain:   "bob-demo-password",
	}, submissionMainCF)
	sub, smtps, named := freePort(t), freePort(t), freePort(t)
	s.addService(fmt.Sprintf(submissionCF, sub, smtps) + fmt.Sprintf(`127.0.0.1:%d inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_sasl_authenticated_header=yes
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
`, named))
	s.start()
	for _, p := range []int{sub, smtps, named} {
		waitListening(t, "127.0.0.1:"+strconv.Itoa(p), nil)
	}
	subAddr, smtpsAddr := "127.0.0.1:"+strconv.Itoa(sub), "127.0.0.1:"+strconv.Itoa(smtps)
	cert := s.path("etc/cert.pem")

	// A message as a user writes it: no Message-ID, no Date, a Bcc.
	draft := func(from, subject string) string {
		return "From: <" + from + ">\nTo: <bob@" + domain + ">\nBcc: <alice@" + domain + ">\nSubject: " + subject + "\n\nsent with " + subject + "\n"
	}
	run := func(name string, cmd *exec.Cmd) {
		t.Helper()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", name, err, out)
		}
	}
	// Each client sends to bob, Bcc alice: two files per message.
	sent := map[string]string{} // subject: the logged-in user
	swaksRun := func(subject, addr, user, mech string, tlsFlag string) {
		cmd := exec.Command(swaks, "--server", addr, tlsFlag, "--auth", mech, "--auth-user", user,
			"--auth-password", strings.Split(user, "@")[0]+"-demo-password",
			"--from", user, "--to", "bob@"+domain+",alice@"+domain, "--data", "-")
		cmd.Stdin = strings.NewReader(draft(user, subject))
		run(subject, cmd)
		sent[subject] = user
	}
	swaksRun("swaks-plain-587", subAddr, "alice@"+domain, "PLAIN", "--tls")
	swaksRun("swaks-login-587", subAddr, "bob@"+domain, "LOGIN", "--tls")
	swaksRun("swaks-plain-465", smtpsAddr, "alice@"+domain, "PLAIN", "--tlsc")
	swaksRun("swaks-named", "127.0.0.1:"+strconv.Itoa(named), "bob@"+domain, "PLAIN", "--tls")

	rc := s.path("msmtprc")
	if err := os.WriteFile(rc, []byte(fmt.Sprintf(`defaults
tls on
tls_trust_file %[1]s
host 127.0.0.1

account sub
port %[2]d
tls_starttls on
auth plain
user alice@%[4]s
password alice-demo-password
from alice@%[4]s

account smtps
port %[3]d
tls_starttls off
auth login
user bob@%[4]s
password bob-demo-password
from bob@%[4]s
`, cert, sub, smtps, domain)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct{ account, user string }{{"sub", "alice@" + domain}, {"smtps", "bob@" + domain}} {
		subject := "msmtp-" + a.account
		cmd := exec.Command(msmtp, "-C", rc, "-a", a.account, "bob@"+domain, "alice@"+domain)
		cmd.Stdin = strings.NewReader(draft(a.user, subject))
		run(subject, cmd)
		sent[subject] = a.user
	}

	for _, v := range []struct{ scheme, port, user string }{
		{"smtp", strconv.Itoa(sub), "alice"}, {"smtps", strconv.Itoa(smtps), "bob"},
	} {
		subject := "s-nail-" + v.scheme
		user := v.user + "@" + domain
		// s-nail matches the certificate's DNS names only: localhost.
		args := []string{"-n", "-#", "-S", "v15-compat", "-S", "nosave", "-S", "sendwait", "-S", "tls-ca-file=" + cert,
			"-S", "mta=" + v.scheme + "://" + v.user + "%40" + domain + ":" + v.user + "-demo-password@localhost:" + v.port,
			"-S", "smtp-auth=plain", "-r", user, "-s", subject, "-b", "alice@" + domain, "bob@" + domain}
		if v.scheme == "smtp" {
			args = append(args[:4], append([]string{"-S", "smtp-use-starttls"}, args[4:]...)...)
		}
		cmd := exec.Command(snail, args...)
		cmd.Stdin = strings.NewReader("sent with " + subject + "\n")
		cmd.Env = append(os.Environ(), "HOME="+s.dir, "MAILRC=/dev/null")
		run(subject, cmd)
		sent[subject] = user
	}

	msgs := s.waitDelivered(2 * len(sent))
	perSubject := map[string]int{}
	for _, m := range msgs {
		subject := headerValue(m.raw, "Subject")
		perSubject[subject]++
		user, ok := sent[subject]
		if !ok {
			t.Errorf("unexpected message in %s's Maildir:\n%s", m.user, m.raw)
			continue
		}
		if !strings.HasPrefix(m.raw, "Return-Path: <"+user+">\n") {
			t.Errorf("%s: the envelope sender is not %s:\n%s", subject, user, m.raw)
		}
		for _, h := range []string{"Message-Id", "Date"} {
			if headerValue(m.raw, h) == "" {
				t.Errorf("%s: no %s header added:\n%s", subject, h, m.raw)
			}
		}
		if headerValue(m.raw, "Bcc") != "" {
			t.Errorf("%s: the Bcc header was kept:\n%s", subject, m.raw)
		}
		named := strings.Contains(m.raw, "(Authenticated sender: "+user+")")
		if want := subject == "swaks-named"; named != want {
			t.Errorf("%s: Received names the user: %v, want %v (smtpd_sasl_authenticated_header):\n%s", subject, named, want, m.raw)
		}
	}
	for subject := range sent {
		if perSubject[subject] != 2 {
			t.Errorf("%s: %d copies delivered, want 2 (bob, and alice by Bcc)", subject, perSubject[subject])
		}
	}
	s.waitLog("sasl_method=PLAIN, sasl_username=alice@" + domain)
	s.waitLog("sasl_method=LOGIN, sasl_username=bob@" + domain)

	t.Run("before STARTTLS", func(t *testing.T) {
		c := dial(t, subAddr)
		if ehlo := c.cmd("EHLO client.example.net", 250, "STARTTLS"); strings.Contains(ehlo, "AUTH") {
			t.Errorf("AUTH offered before STARTTLS: %q", ehlo)
		}
		c.cmd(authPlain("alice@"+domain, "alice-demo-password"), 530, "5.7.0 Must issue a STARTTLS command first")
		c.cmd("MAIL FROM:<alice@"+domain+">", 530, "5.7.0 Must issue a STARTTLS command first")
		c.cmd("STARTTLS", 220, "2.0.0")
		if err := c.startTLS(tlsConf); err != nil {
			t.Fatal(err)
		}
		c.cmd("EHLO client.example.net", 250, "AUTH PLAIN LOGIN")
		c.cmd(authPlain("alice@"+domain, "wrong"), 535, "5.7.8 Error: authentication failed")
		c.cmd("MAIL FROM:<alice@"+domain+">", 250, "2.1.0")
		// Not logged in: the submission port relays for nobody.
		c.cmd("RCPT TO:<bob@"+domain+">", 554, "5.7.1")
		c.cmd("QUIT", 221, "")
	})
	s.stop()
}

// headerValue is the first header field called name in a message's
// header ("" if none).
func headerValue(raw, name string) string {
	head, _, _ := strings.Cut(raw, "\n\n")
	for _, l := range strings.Split(head, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
