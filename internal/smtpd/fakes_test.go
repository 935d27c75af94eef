package smtpd

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"mailhorn/internal/address"
	"mailhorn/internal/cleanup"
	"mailhorn/internal/maillog"
)

// fakePolicy refuses by convention: helo "reject.example", sender
// "blocked@...", recipients "unknown@...", "temp@..." and any domain
// "elsewhere.example"; recipient "panic@..." panics; "wait@..." blocks
// until release is closed.
type fakePolicy struct {
	PermitAll
	release chan struct{}
	waiting chan struct{}
}

func (p *fakePolicy) CheckHelo(_ context.Context, _ *Info, helo string) *Reply {
	if helo == "reject.example" {
		return &Reply{Code: 550, DSN: "5.7.1", Text: "<reject.example>: Helo command rejected: Access denied"}
	}
	return nil
}

func (p *fakePolicy) CheckMail(_ context.Context, _ *Info, sender string) *Reply {
	if strings.HasPrefix(sender, "blocked@") {
		return &Reply{Code: 553, DSN: "5.7.1", Text: "<" + sender + ">: Sender address rejected: Access denied"}
	}
	return nil
}

func (p *fakePolicy) CheckRcpt(ctx context.Context, _ *Info, rcpt string) *Reply {
	a := address.FromInternal(rcpt)
	switch {
	case a.Local == "panic":
		panic("injected panic")
	case a.Local == "wait":
		if p.waiting != nil {
			close(p.waiting)
		}
		select {
		case <-p.release:
		case <-ctx.Done():
		}
	case a.Local == "unknown":
		return &Reply{Code: 550, DSN: "5.1.1", Text: "<" + rcpt + ">: Recipient address rejected: User unknown in virtual mailbox table"}
	case a.Local == "temp":
		return &Reply{Code: 450, DSN: "4.7.1", Text: "<" + rcpt + ">: Recipient address rejected: Try again"}
	case a.Local == "bye":
		return &Reply{Code: 421, DSN: "4.7.0", Text: "mx.example.test Service unavailable"}
	case a.Local == "bye521":
		return &Reply{Code: 521, DSN: "5.7.1", Text: "<unknown[127.0.0.1]>: Client host rejected: not here"}
	case a.Domain == "elsewhere.example":
		return &Reply{Code: 554, DSN: "5.7.1", Text: "<" + rcpt + ">: Relay access denied"}
	}
	return nil
}

func (p *fakePolicy) CheckVrfy(_ context.Context, _ *Info, addr string) *Reply {
	if strings.HasPrefix(addr, "unknown@") {
		return &Reply{Code: 550, DSN: "5.1.1", Text: "<" + addr + ">: Recipient address rejected: User unknown"}
	}
	return nil
}

type submitted struct {
	msg     cleanup.Message
	content string
}

// fakeSubmitter keeps messages in memory. Sender "reject@..." is refused
// after reading the content, "early@..." before reading it, "fail@..."
// fails like a full disk.
type fakeSubmitter struct {
	mu   sync.Mutex
	msgs []submitted
}

func (f *fakeSubmitter) Submit(ctx context.Context, m *cleanup.Message, content io.Reader) (string, error) {
	if strings.HasPrefix(m.Sender, "early@") {
		return "", &cleanup.Error{Code: 550, DSN: "5.7.1", Text: "Refused before content"}
	}
	b, err := io.ReadAll(content)
	if err != nil {
		return "", fmt.Errorf("read content: %w", err)
	}
	switch {
	case strings.HasPrefix(m.Sender, "reject@"):
		return "", &cleanup.Error{Code: 554, DSN: "5.7.1", Text: "Message content rejected"}
	case strings.HasPrefix(m.Sender, "fail@"):
		return "", errors.New("disk full")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id := fmt.Sprintf("QID%d", len(f.msgs)+1)
	if m.OnQueueID != nil {
		m.OnQueueID(id) // as cleanup does once the queue file exists
	}
	if m.EndOfData != nil {
		// As cleanup does: after the content, before the commit.
		if e := m.EndOfData(int64(len(b))); e != nil {
			return "", e
		}
	}
	if m.ReceivedFor != nil {
		m.Received = m.ReceivedFor(id) // as cleanup writes it
	}
	f.msgs = append(f.msgs, submitted{msg: *m, content: string(b)})
	return id, nil
}

func (f *fakeSubmitter) messages() []submitted {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]submitted(nil), f.msgs...)
}

// lockedBuffer is a log sink safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testServer is a Server on a loopback port with the fakes.
type testServer struct {
	srv  *Server
	sub  *fakeSubmitter
	pol  *fakePolicy
	log  *lockedBuffer
	addr string
	done chan struct{}
}

func testOptions() Options {
	o := DefaultOptions()
	o.Hostname = "mx.example.test"
	o.Banner = "mx.example.test ESMTP mailhorn"
	o.ErrorSleep = 0
	o.Timeout = 30 * time.Second
	o.Now = func() time.Time { return time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC) }
	return o
}

func startServer(t *testing.T, opt Options) *testServer {
	t.Helper()
	return startServerPolicy(t, opt, nil)
}

// startServerPolicy starts a test server with pol as its policy (nil: the
// fakePolicy). The policy is set before serving: sessions read it.
func startServerPolicy(t *testing.T, opt Options, pol Policy) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{sub: &fakeSubmitter{}, pol: &fakePolicy{}, log: &lockedBuffer{}, addr: ln.Addr().String(), done: make(chan struct{})}
	ml := maillog.New(ts.log, "mailhorn", "mx.example.test").Service("smtpd")
	if pol == nil {
		pol = ts.pol
	}
	ts.srv = &Server{Opts: opt, Policy: pol, Submitter: ts.sub, MailLog: ml}
	go func() {
		defer close(ts.done)
		ts.srv.Serve(context.Background(), ln)
	}()
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

// stop shuts the server down and waits for every session to end.
func (ts *testServer) stop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	<-ts.done
}

// testCert makes a self-signed certificate for mx.example.test.
func testCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mx.example.test"},
		DNSNames:     []string{"mx.example.test", "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
