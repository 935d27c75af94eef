package smtp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"mailhorn/internal/address"
	"mailhorn/internal/cleanup"
	"mailhorn/internal/deliver"
	"mailhorn/internal/smtpd"
)

// dnsServer answers from a fixed zone on 127.0.0.1: "servfail.test."
// and names below it get SERVFAIL, unknown names NXDOMAIN.
type dnsServer struct {
	mx map[string][]*dns.MX
	a  map[string][]string
}

func startDNS(t *testing.T, z *dnsServer) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Authoritative, m.RecursionAvailable = true, true
		name := strings.ToLower(q.Question[0].Name)
		switch {
		case strings.HasSuffix(name, "servfail.test."):
			m.Rcode = dns.RcodeServerFailure
		case z.mx[name] == nil && z.a[name] == nil:
			m.Rcode = dns.RcodeNameError
		case q.Question[0].Qtype == dns.TypeMX:
			for _, r := range z.mx[name] {
				rr := *r
				rr.Hdr = dns.RR_Header{Name: name, Rrtype: dns.TypeMX, Class: dns.ClassINET, Ttl: 60}
				m.Answer = append(m.Answer, &rr)
			}
		case q.Question[0].Qtype == dns.TypeA:
			for _, a := range z.a[name] {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(a)})
			}
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

// arrived is a message our smtpd peer accepted.
type arrived struct {
	msg     *cleanup.Message
	content string
}

// sink is a Submitter (and LMTPSubmitter) that records messages; in LMTP
// it refuses recipients named "full@..." with 552 5.2.2.
type sink struct {
	mu   sync.Mutex
	msgs []arrived
}

func (s *sink) Submit(ctx context.Context, m *cleanup.Message, r io.Reader) (string, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, arrived{m, string(b)})
	return "Q" + strconv.Itoa(len(s.msgs)), nil
}

func (s *sink) SubmitLMTP(ctx context.Context, m *cleanup.Message, r io.Reader) (string, []error, error) {
	id, err := s.Submit(ctx, m, r)
	res := make([]error, len(m.Recipients))
	for i, rc := range m.Recipients {
		if strings.HasPrefix(rc.Address, "full@") {
			res[i] = &cleanup.Error{Code: 552, DSN: "5.2.2", Text: "<" + rc.Address + ">: Mailbox full"}
		}
	}
	return id, res, err
}

func (s *sink) all() []arrived {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]arrived(nil), s.msgs...)
}

// rejecter refuses "unknown@..." (550 5.1.1) and "temp@..." (450 4.2.0).
type rejecter struct{ smtpd.PermitAll }

func (rejecter) CheckRcpt(_ context.Context, _ *smtpd.Info, rcpt string) *smtpd.Reply {
	switch address.FromInternal(rcpt).Local {
	case "unknown":
		return &smtpd.Reply{Code: 550, DSN: "5.1.1", Text: "<" + rcpt + ">: Recipient address rejected: User unknown"}
	case "temp":
		return &smtpd.Reply{Code: 450, DSN: "4.2.0", Text: "<" + rcpt + ">: Recipient address rejected: Try again later"}
	}
	return nil
}

// peer runs our smtpd on ln with opts.
func peer(t *testing.T, ln net.Listener, edit func(*smtpd.Options)) *sink {
	t.Helper()
	o := smtpd.DefaultOptions()
	o.Hostname = "peer.test"
	o.ErrorSleep = 0
	if edit != nil {
		edit(&o)
	}
	sk := &sink{}
	srv := &smtpd.Server{Opts: o, Policy: rejecter{}, Submitter: sk}
	go srv.Serve(context.Background(), ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return sk
}

// listenAt listens on addr:port (127.0.0.x; port "0" picks one).
func listenAt(t *testing.T, ip, port string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func portOf(ln net.Listener) string {
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}

// freePort is a port free on 127.0.0.1 (and, for tests, assumed free on
// the other 127.0.0.x addresses).
func freePort(t *testing.T) string {
	ln := listenAt(t, "127.0.0.1", "0")
	p := portOf(ln)
	ln.Close()
	return p
}

// request builds a delivery request whose content is in a temporary file.
func request(t *testing.T, nexthop, sender, content string, rcpts ...string) *deliver.Request {
	t.Helper()
	path := filepath.Join(t.TempDir(), "queuefile")
	if err := os.WriteFile(path, []byte("HEADER-JUNK"+content), 0o600); err != nil {
		t.Fatal(err)
	}
	req := &deliver.Request{QueueID: "ABC123", Sender: sender, Nexthop: nexthop, Path: path,
		ContentOffset: int64(len("HEADER-JUNK")), ContentSize: int64(len(content))}
	for i, r := range rcpts {
		req.Recipients = append(req.Recipients, deliver.Recipient{Index: i, Address: r, Original: r})
	}
	return req
}

const message = "From: a@sender.test\nSubject: hi\n\nline one\n.leading dot\nend\n"

// testOptions are fast options connecting to port.
func testOptions(port string) Options {
	o := DefaultOptions(false)
	o.DefaultPort = port
	o.HeloName = "client.test"
	o.Timeouts.Connect = 5 * time.Second
	o.TLSLevel = TLSNone
	o.CacheTime = 0
	for _, d := range []*time.Duration{&o.Timeouts.Helo, &o.Timeouts.Mail, &o.Timeouts.Rcpt, &o.Timeouts.DataInit, &o.Timeouts.DataXfer, &o.Timeouts.DataDone, &o.Timeouts.Quit, &o.Timeouts.Rset} {
		*d = 10 * time.Second
	}
	return o
}

// testCA makes a CA and a server certificate for names signed by it.
func testCA(t *testing.T, names ...string) (*x509.CertPool, tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

var errNoReply = errors.New("no reply")
