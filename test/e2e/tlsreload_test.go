package e2e

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestTLSCertificateReload: a renewed certificate (here: a new self-signed
// one written over the old files) is served to new connections after
// `mailhorn reload`, without a restart, as Postfix does after "postfix
// reload".
func TestTLSCertificateReload(t *testing.T) {
	s := newSystem(t, options{})
	s.enableAuth(map[string]string{"alice@" + domain: "alice-password"}, "")
	s.start()
	before := serverCert(t, s.addr())

	cert, key := s.path("etc/cert.pem"), s.path("etc/key.pem")
	out, err := exec.Command(mailhornBin, "tls", "selfsigned", "-f", "-c", s.etc, "-cert", cert, "-key", key,
		"-host", "mail."+domain).CombinedOutput()
	if err != nil {
		t.Fatalf("mailhorn tls selfsigned -f: %v\n%s", err, out)
	}
	if err := os.Chown(key, runAs.uid, runAs.gid); err != nil {
		t.Fatal(err)
	}
	// Until the reload, the old certificate is still the one served.
	if c := serverCert(t, s.addr()); !c.Equal(before) {
		t.Fatal("the certificate changed before the reload")
	}
	if code, out := s.mailhorn("reload", "-c", s.etc); code != 0 {
		t.Fatalf("reload: %d %s", code, out)
	}
	deadline := time.Now().Add(patience)
	for serverCert(t, s.addr()).Equal(before) {
		if time.Now().After(deadline) {
			t.Fatal("the renewed certificate is not served after the reload")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// serverCert does EHLO and STARTTLS and returns the certificate the server
// presents.
func serverCert(t *testing.T, addr string) *x509.Certificate {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, patience)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(patience))
	r := bufio.NewReader(c)
	expect := func(code string) {
		for {
			l, err := r.ReadString('\n')
			if err != nil || !strings.HasPrefix(l, code) {
				t.Fatalf("want %s, got %q (%v)", code, l, err)
			}
			if len(l) > 3 && l[3] == ' ' {
				return
			}
		}
	}
	expect("220")
	c.Write([]byte("EHLO client.example\r\n"))
	expect("250")
	c.Write([]byte("STARTTLS\r\n"))
	expect("220")
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	return tc.ConnectionState().PeerCertificates[0]
}
