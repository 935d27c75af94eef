package main

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTLSSelfSigned(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, dir, "main.cf", "myhostname = mail.example.org\nsmtpd_tls_cert_file = "+cert+"\nsmtpd_tls_key_file = "+key+"\n")
	if _, errOut, code := runCommand(t, runTLS, "", "selfsigned", "-c", dir, "-host", "mail.example.org,127.0.0.1"); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatalf("the files are no key pair: %v", err)
	}
	c, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	for _, name := range []string{"mail.example.org", "127.0.0.1"} {
		if _, err := c.Verify(x509.VerifyOptions{DNSName: name, Roots: pool}); err != nil {
			t.Errorf("verify for %s with itself as the trust anchor: %v", name, err)
		}
	}
	if _, err := c.Verify(x509.VerifyOptions{DNSName: "other.example.org", Roots: pool}); err == nil {
		t.Error("the certificate verifies for a name it was not made for")
	}
	if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode: %v %v, want 0600", st.Mode(), err)
	}
	// An existing certificate is not replaced without -f.
	_, errOut, code := runCommand(t, runTLS, "", "selfsigned", "-c", dir)
	if code != 1 || !strings.Contains(errOut, "exists") {
		t.Errorf("second run: exit %d, %q; want 1 and 'exists'", code, errOut)
	}
	if _, errOut, code := runCommand(t, runTLS, "", "selfsigned", "-c", dir, "-f"); code != 0 {
		t.Errorf("-f: exit %d: %s", code, errOut)
	}
	// Defaults from main.cf: the host name is myhostname.
	pair, _ = tls.LoadX509KeyPair(cert, key)
	c, _ = x509.ParseCertificate(pair.Certificate[0])
	if len(c.DNSNames) != 1 || c.DNSNames[0] != "mail.example.org" {
		t.Errorf("DNS names %v, want myhostname", c.DNSNames)
	}
}

func TestTLSUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"other"}, {"selfsigned", "-days", "0"}, {"selfsigned", "extra"}} {
		if _, _, code := runCommand(t, runTLS, "", args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	dir := t.TempDir()
	writeFile(t, dir, "main.cf", "")
	if _, errOut, code := runCommand(t, runTLS, "", "selfsigned", "-c", dir); code != 1 || !strings.Contains(errOut, "smtpd_tls_cert_file") {
		t.Errorf("no certificate file: exit %d %q", code, errOut)
	}
}
