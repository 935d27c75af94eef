package pop3d

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
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"mailhorn/internal/anvil"
	"mailhorn/internal/auth"
	"mailhorn/internal/auth/password"
	"mailhorn/internal/config"
	"mailhorn/internal/maillog"
	"mailhorn/internal/store"
)

// memMessage is one message of a memStore mailbox.
type memMessage struct {
	uid     uint32
	flags   []string
	content string // CRLF line endings, as the store gives them
}

// memStore holds in-memory INBOXes by root, shared by the sessions of a
// test like the real store's index.
type memStore struct {
	mu          sync.Mutex
	boxes       map[string][]memMessage
	uidValidity uint32
	failUpdate  error // returned by Store and Expunge when set
}

func newMemStore() *memStore {
	return &memStore{boxes: map[string][]memMessage{}, uidValidity: 1234567}
}

func (m *memStore) put(root string, msgs ...memMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.boxes[root] = append(m.boxes[root], msgs...)
}

// snapshot returns root's messages now.
func (m *memStore) snapshot(root string) []memMessage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.boxes[root])
}

func (m *memStore) open(_ context.Context, root string, _ store.Quota) (mailbox, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.boxes[root]; !ok {
		m.boxes[root] = nil
	}
	v := &memView{st: m, root: root}
	for _, msg := range m.boxes[root] {
		v.msgs = append(v.msgs, store.Message{UID: msg.uid, Flags: slices.Clone(msg.flags), Size: int64(len(msg.content))})
	}
	return v, nil
}

// memView is one session's view: a snapshot of the list.
type memView struct {
	st     *memStore
	root   string
	msgs   []store.Message
	closed bool
}

func (v *memView) Status() store.Status {
	return store.Status{UIDValidity: v.st.uidValidity, Messages: uint32(len(v.msgs))}
}
func (v *memView) Messages() []store.Message { return v.msgs }
func (v *memView) Open(uid uint32) (io.ReadSeekCloser, error) {
	v.st.mu.Lock()
	defer v.st.mu.Unlock()
	for _, m := range v.st.boxes[v.root] {
		if m.uid == uid {
			return nopCloser{bytes.NewReader([]byte(m.content))}, nil
		}
	}
	return nil, store.ErrNoMessage
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func (v *memView) Store(_ context.Context, uids []uint32, op store.FlagOp, flags []string, _ uint64) ([]uint32, error) {
	v.st.mu.Lock()
	defer v.st.mu.Unlock()
	if v.st.failUpdate != nil {
		return nil, v.st.failUpdate
	}
	if op != store.FlagsAdd {
		return nil, errors.New("memView: only FlagsAdd")
	}
	box := v.st.boxes[v.root]
	for i := range box {
		if slices.Contains(uids, box[i].uid) {
			for _, f := range flags {
				if !slices.Contains(box[i].flags, f) {
					box[i].flags = append(box[i].flags, f)
				}
			}
			sort.Strings(box[i].flags)
		}
	}
	return nil, nil
}

func (v *memView) Expunge(_ context.Context, uids []uint32) (store.Changes, error) {
	v.st.mu.Lock()
	defer v.st.mu.Unlock()
	if v.st.failUpdate != nil {
		return store.Changes{}, v.st.failUpdate
	}
	var keep []memMessage
	var ch store.Changes
	for _, m := range v.st.boxes[v.root] {
		if slices.Contains(uids, m.uid) && slices.Contains(m.flags, store.FlagDeleted) {
			ch.ExpungedUIDs = append(ch.ExpungedUIDs, m.uid)
			continue
		}
		keep = append(keep, m)
	}
	v.st.boxes[v.root] = keep
	return ch, nil
}

func (v *memView) Close() error { v.closed = true; return nil }

// The users of the tests: bob and alice, with their passwords.
const (
	bobPassword   = "bob secret"
	alicePassword = "alice-pw"
)

// newAuth builds a real auth.Service over a passwd-file with bob and
// alice; settings override its parameters.
func newAuth(t testing.TB, settings map[string]string) *auth.Service {
	t.Helper()
	dir := t.TempDir()
	var lines []byte
	for _, u := range []struct{ name, pw string }{{"bob", bobPassword}, {"alice", alicePassword}} {
		h, err := password.Hash("SHA512-CRYPT", u.pw)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, u.name+":"+h+"::::/home/"+u.name+"::\n"...)
	}
	path := filepath.Join(dir, "users")
	if err := os.WriteFile(path, lines, 0o600); err != nil {
		t.Fatal(err)
	}
	set := map[string]string{
		"auth_user_maps":       "passwd-file:" + path,
		"auth_unix_users":      "no",
		"auth_password_scheme": "SHA512-CRYPT",
		"auth_mechanisms":      "PLAIN, LOGIN",
		"auth_failure_delay":   "0",
		"auth_failure_limit":   "0",
		"anvil_rate_time_unit": "60",
	}
	for k, v := range settings {
		set[k] = v
	}
	cfg, err := config.FromMap(set)
	if err != nil {
		t.Fatal(err)
	}
	s, err := auth.New(cfg, auth.Options{Anvil: anvil.New(nil), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rootOf is the tests' UserResolver: every user's mailbox is /mail/NAME.
func rootOf(_ context.Context, u *auth.User) (string, store.Quota, error) {
	return "/mail/" + u.Name, store.Quota{}, nil
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testServer is a Server on a loopback listener.
type testServer struct {
	srv  *Server
	addr string
	log  *syncBuffer
	done chan struct{}
}

// testOptions are the options of most tests: TLS available, plaintext
// allowed (so that transcripts can log in without TLS unless they ask).
func testOptions(t testing.TB) Options {
	o := DefaultOptions()
	o.Hostname = "pop.example.test"
	o.TLS = &tls.Config{Certificates: []tls.Certificate{testCert(t)}, MinVersion: tls.VersionTLS12}
	o.TLSAuthOnly = false
	o.Timeout = time.Minute
	return o
}

// startServer serves srv (whose Opts, Auth, Users and openBox or Store
// the caller filled) on a loopback port until the test ends.
func startServer(t testing.TB, srv *Server) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{srv: srv, addr: ln.Addr().String(), log: &syncBuffer{}, done: make(chan struct{})}
	if srv.MailLog == nil {
		srv.MailLog = maillog.New(ts.log, "mailhorn", "pop").Service("pop3d")
	}
	if srv.Log == nil {
		srv.Log = slog.New(slog.NewTextHandler(ts.log, nil))
	}
	go func() {
		defer close(ts.done)
		srv.Serve(context.Background(), ln)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		<-ts.done
	})
	return ts
}

// fixture is the INBOX of bob in most tests.
var fixture = []memMessage{
	{uid: 1, content: "From: a@example.test\r\nSubject: one\r\n\r\nHello\r\n"},
	{uid: 2, content: "Subject: dots\r\n\r\n.leading dot\r\n..two\r\nline3\r\n.\r\nend\r\n"},
	{uid: 5, flags: []string{store.FlagSeen}, content: "Subject: three\r\n\r\nb1\r\nb2\r\nb3\r\n"},
}

// newMemServer is a Server over a memStore holding fixture for bob.
func newMemServer(t testing.TB, o Options) (*Server, *memStore) {
	st := newMemStore()
	st.put("/mail/bob", fixture...)
	return &Server{Opts: o, Auth: newAuth(t, nil), Users: rootOf, openBox: st.open}, st
}

// testCert makes a self-signed certificate for pop.example.test.
func testCert(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "pop.example.test"},
		DNSNames:     []string{"pop.example.test", "localhost"},
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
