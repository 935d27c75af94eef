package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Real Postfix as the remote MX of mailhorn's smtp client (issue 5): a
// private Postfix instance (its own config and queue directories under
// /tmp, smtpd on loopback ports) with a virtual mailbox domain pf.test
// delivered to Maildirs, found through the test's DNS server
// (pf.test MX mx.pf.test, mx.pf.test A 127.0.0.1). Plain delivery, STARTTLS
// with a test CA (verify, wrong name, may) and SASL to a Postfix smtpd that
// authenticates through a private Dovecot. Root only: Postfix's master
// starts as root and drops to the postfix account.

const pfDomain = "pf.test"

// startPostfixMX starts a private Postfix instance accepting mail for
// pf.test (mailbox carol) on one or more loopback smtpd ports, with mainCF appended to its main.cf
// and one smtpd per listener; it is stopped when the test ends.
func startPostfixMX(t *testing.T, mainCF string, listeners ...pfListener) *pfInstance {
	t.Helper()
	p := newPostfix(t, "pfmx", "vmail")
	// virtual(8) writes the Maildirs as nobody.
	nobody := lookupUID(t, "nobody")
	if err := os.Chown(filepath.Join(p.dir, "vmail"), nobody, runAs.gid); err != nil {
		t.Fatal(err)
	}
	p.start(pfConfig{
		myhostname: "mx." + pfDomain,
		mainCF: fmt.Sprintf(`virtual_mailbox_domains = %[2]s
virtual_mailbox_maps = hash:%[1]s/conf/vmailbox
virtual_mailbox_base = %[1]s/vmail
virtual_uid_maps = static:%[3]d
virtual_gid_maps = static:%[4]d
virtual_minimum_uid = 1
smtp_dns_support_level = disabled
%[5]s`, p.dir, pfDomain, nobody, runAs.gid, mainCF),
		transports: `tlsmgr     unix  - - n 1000? 1 tlsmgr
virtual    unix  - n n -     - virtual
`,
		listeners: listeners,
		maps:      map[string]string{"vmailbox": fmt.Sprintf("carol@%[1]s %[1]s/carol/\n", pfDomain)},
	})
	return p
}

// waitMessage waits for the message whose Message-ID is msgID in carol's
// Maildir (pf.test) and returns it.
func (p *pfInstance) waitMessage(msgID string) string {
	p.t.Helper()
	for deadline := time.Now().Add(patience); ; time.Sleep(50 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(p.dir, "vmail", pfDomain, "carol/new/*"))
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), "Message-ID: "+msgID) {
				return string(b)
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("no %s in Postfix's Maildir after %v; Postfix's log:\n%s", msgID, patience, p.log())
		}
	}
}

// mxRelay is a mailhorn system whose DNS serves pf.test's MX and whose
// transport table sends pf.test to port (docs/smtp.md: smtp:domain:port
// looks up the MX, then uses that port), with extra main.cf lines.
func mxRelay(t *testing.T, port int, extra string) *system {
	t.Helper()
	dns := startDNS(t, pfDomain+". MX 10 mx."+pfDomain+".", "mx."+pfDomain+". A 127.0.0.1")
	return relayClient(t, dns, map[string]string{pfDomain: "smtp:" + pfDomain + ":" + strconv.Itoa(port)}, extra)
}

// send submits one message from alice to rcpt and returns its queue ID.
func sendOne(t *testing.T, s *system, rcpt, msgID string) string {
	t.Helper()
	c := dial(t, s.addr())
	id := c.sendMail("alice@"+domain, []string{rcpt}, testMessage("alice@"+domain, rcpt, msgID, "to Postfix"))
	c.cmd("QUIT", 221, "")
	return id
}

// TestPostfixMX: mailhorn relays to Postfix found as pf.test's MX; the
// message lands in Postfix's Maildir with the envelope sender kept, and
// mailhorn logs status=sent with relay=mx.pf.test[127.0.0.1]:PORT.
func TestPostfixMX(t *testing.T) {
	needRoot(t)
	port := freePort(t)
	p := startPostfixMX(t, "", pfListener{port: port})
	// smtp_tls_security_level is left empty (may): this smtpd offers no
	// STARTTLS, so the mail goes in plaintext.
	a := mxRelay(t, port, "")
	a.start()
	id := sendOne(t, a, "carol@"+pfDomain, "<pfmx-1@e2e.test>")

	a.waitLog(id+": to=<carol@"+pfDomain+">", "relay=mx."+pfDomain+"[127.0.0.1]:"+strconv.Itoa(port), "dsn=2.", "status=sent")
	msg := p.waitMessage("<pfmx-1@e2e.test>")
	if !strings.HasPrefix(msg, "Return-Path: <alice@"+domain+">\n") {
		t.Errorf("Postfix's copy does not keep the envelope sender:\n%s", msg)
	}
	if !strings.Contains(msg, "by mx."+pfDomain+" (Postfix)") || !strings.Contains(msg, "by mail."+domain) {
		t.Errorf("Postfix's copy lacks the Received headers of both hops:\n%s", msg)
	}
	if strings.Contains(msg, "using TLS") {
		t.Errorf("TLS without STARTTLS offered?\n%s", msg)
	}
	p.waitLog("to=<carol@"+pfDomain+">", "relay=virtual", "status=sent")
	a.waitLog(id + ": removed")
	a.stop()
}

// testCA is a certificate authority made for one test: ca.pem, and
// issue() for server certificates signed by it.
type testCA struct {
	t    *testing.T
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // the CA certificate, PEM
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	dir, err := os.MkdirTemp("", "mailhorn-e2e-ca-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755) // mailhorn runs as nobody and reads ca.pem
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mailhorn e2e test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{t: t, dir: dir, cert: cert, key: key, file: filepath.Join(dir, "ca.pem")}
	ca.writePEM(ca.file, "CERTIFICATE", der)
	return ca
}

// issue makes a server certificate for name and returns the PEM files of
// the certificate and its key.
func (ca *testCA) issue(name string) (certFile, keyFile string) {
	ca.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		ca.t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		ca.t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		ca.t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(ca.dir, name+".pem"), filepath.Join(ca.dir, name+".key")
	ca.writePEM(certFile, "CERTIFICATE", der)
	ca.writePEM(keyFile, "PRIVATE KEY", kder)
	return certFile, keyFile
}

func (ca *testCA) writePEM(path, kind string, der []byte) {
	ca.t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o644); err != nil {
		ca.t.Fatal(err)
	}
}

// tlsListener is an smtpd offering STARTTLS with the given certificate.
func tlsListener(port int, cert, key string, opts ...string) pfListener {
	return pfListener{port: port, opts: append([]string{
		"smtpd_tls_security_level=may",
		"smtpd_tls_cert_file=" + cert,
		"smtpd_tls_key_file=" + key,
		"smtpd_tls_received_header=yes",
		"smtpd_tls_loglevel=1",
	}, opts...)}
}

// TestPostfixMXTLS: STARTTLS to Postfix with a certificate from a test CA.
// At smtp_tls_security_level = verify with smtp_tls_CAfile = the CA, a
// certificate for mx.pf.test is verified and the mail sent over TLS
// (Postfix's Received header and both logs say so); a certificate for a
// wrong name defers 4.7.5 at verify, and at may the same peer gets the
// mail anyway, encrypted but unverified.
func TestPostfixMXTLS(t *testing.T) {
	needRoot(t)
	ca := newTestCA(t)
	goodCert, goodKey := ca.issue("mx." + pfDomain)
	badCert, badKey := ca.issue("wrong.example")
	good, bad := freePort(t), freePort(t)
	p := startPostfixMX(t, "", tlsListener(good, goodCert, goodKey), tlsListener(bad, badCert, badKey))

	t.Run("verify", func(t *testing.T) {
		a := mxRelay(t, good, "smtp_tls_security_level = verify\nsmtp_tls_CAfile = "+ca.file)
		a.start()
		id := sendOne(t, a, "carol@"+pfDomain, "<pfmx-tls-1@e2e.test>")
		a.waitLog(id+": to=<carol@"+pfDomain+">", "relay=mx."+pfDomain+"[127.0.0.1]:"+strconv.Itoa(good), "status=sent")
		msg := p.waitMessage("<pfmx-tls-1@e2e.test>")
		if !strings.Contains(msg, "(using TLSv1.3 with cipher") {
			t.Errorf("Postfix's Received header does not say TLSv1.3:\n%s", msg)
		}
		p.waitLog("Anonymous TLS connection established from localhost[127.0.0.1]: TLSv1.3")
		// docs/smtp.md and Postfix: "...: TLSv1.3 with cipher ...".
		a.waitLog("Verified TLS connection established to mx." + pfDomain + "[127.0.0.1]:" + strconv.Itoa(good) + ": TLSv1.3 with cipher")
		a.stop()
	})
	t.Run("wrong name at verify", func(t *testing.T) {
		a := mxRelay(t, bad, "smtp_tls_security_level = verify\nsmtp_tls_CAfile = "+ca.file)
		a.start()
		id := sendOne(t, a, "carol@"+pfDomain, "<pfmx-tls-2@e2e.test>")
		line := a.waitLog(id+": to=<carol@"+pfDomain+">", "status=deferred")[0]
		t.Logf("mailhorn: %s", line)
		if !strings.Contains(line, "dsn=4.7.5") {
			t.Errorf("want a 4.7.5 deferral for a certificate naming wrong.example: %s", line)
		}
		if got := a.logLines("status=sent"); len(got) != 0 {
			t.Errorf("sent despite the wrong name: %q", got)
		}
		a.stop()
	})
	t.Run("wrong name at may", func(t *testing.T) {
		a := mxRelay(t, bad, "smtp_tls_security_level = may\nsmtp_tls_CAfile = "+ca.file)
		a.start()
		id := sendOne(t, a, "carol@"+pfDomain, "<pfmx-tls-3@e2e.test>")
		a.waitLog(id+": to=<carol@"+pfDomain+">", "relay=mx."+pfDomain+"[127.0.0.1]:"+strconv.Itoa(bad), "status=sent")
		a.waitLog("Anonymous TLS connection established to mx." + pfDomain + "[127.0.0.1]:" + strconv.Itoa(bad))
		msg := p.waitMessage("<pfmx-tls-3@e2e.test>")
		if !strings.Contains(msg, "(using TLSv1.3 with cipher") {
			t.Errorf("at may, the mail did not travel encrypted:\n%s", msg)
		}
		a.stop()
	})
}

// startDovecotAuth runs a private Dovecot with only its auth service, a
// passwd-file holding user with password, and a client socket for
// Postfix's smtpd; it returns the socket's path.
func startDovecotAuth(t *testing.T, user, password string) string {
	t.Helper()
	dovecot := sbinTool(t, "dovecot")
	dir, err := os.MkdirTemp("", "mailhorn-e2e-dovecot-auth-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	for _, d := range []string{"run", "state"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "passwd"), []byte(user+":{PLAIN}"+password+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "auth-client")
	cf := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(cf, []byte(fmt.Sprintf(`# private Dovecot (auth only) for mailhorn's e2e test
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
instance_name = mailhorn-e2e-auth
protocols =
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = %[1]s/passwd
}
service auth {
  unix_listener %[2]s {
    mode = 0666
  }
}
`, dir, sock)), 0o644); err != nil {
		t.Fatal(err)
	}
	startDovecot(t, dovecot, dir, cf)
	for deadline := time.Now().Add(patience); !fileExists(sock); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Fatalf("no Dovecot auth socket %s after %v; dovecot.log:\n%s", sock, patience, b)
		}
	}
	return sock
}

// TestPostfixMXSASL: the null-client case. Postfix's smtpd relays only for
// SASL-authenticated clients (smtpd_relay_restrictions =
// permit_sasl_authenticated, reject; even loopback is not in mynetworks
// here), checking passwords with a private Dovecot. mailhorn with
// relayhost = [127.0.0.1]:PORT, a password from smtp_sasl_password_maps
// and smtp_tls_security_level = encrypt logs in over TLS and the mail is
// accepted (Postfix logs sasl_username=) and stored; with a wrong password
// the mail is deferred 4.7.0 with Postfix's 535 reply.
func TestPostfixMXSASL(t *testing.T) {
	needRoot(t)
	sock := startDovecotAuth(t, "nullclient", "s3cret")
	ca := newTestCA(t)
	cert, key := ca.issue("mx." + pfDomain)
	port := freePort(t)
	p := startPostfixMX(t, "", tlsListener(port, cert, key,
		"mynetworks=",
		"smtpd_sasl_auth_enable=yes",
		"smtpd_sasl_type=dovecot",
		"smtpd_sasl_path="+sock,
		"smtpd_tls_auth_only=yes",
		"smtpd_relay_restrictions=permit_sasl_authenticated,reject",
	))
	relay := fmt.Sprintf("[127.0.0.1]:%d", port)
	nullClient := func(password string) *system {
		return newSystem(t, options{mainCF: fmt.Sprintf(`relayhost = %[1]s
smtp_sasl_auth_enable = yes
smtp_sasl_password_maps = inline:{ {%[1]s = nullclient:%[2]s} }
smtp_tls_security_level = encrypt
`, relay, password)})
	}

	t.Run("right password", func(t *testing.T) {
		a := nullClient("s3cret")
		a.start()
		id := sendOne(t, a, "carol@"+pfDomain, "<pfmx-sasl-1@e2e.test>")
		a.waitLog(id+": to=<carol@"+pfDomain+">", "relay=127.0.0.1[127.0.0.1]:"+strconv.Itoa(port), "status=sent")
		t.Logf("Postfix: %s", p.waitLog("sasl_method=PLAIN", "sasl_username=nullclient"))
		p.waitMessage("<pfmx-sasl-1@e2e.test>")
		a.stop()
	})
	t.Run("wrong password", func(t *testing.T) {
		a := nullClient("wrong")
		a.start()
		id := sendOne(t, a, "carol@"+pfDomain, "<pfmx-sasl-2@e2e.test>")
		line := a.waitLog(id+": to=<carol@"+pfDomain+">", "status=deferred")[0]
		t.Logf("mailhorn: %s", line)
		if !strings.Contains(line, "dsn=4.7.0") || !strings.Contains(line, "535") {
			t.Errorf("want a 4.7.0 deferral quoting Postfix's 535: %s", line)
		}
		p.waitLog("authentication failed", "sasl_username=nullclient")
		a.stop()
	})
}
