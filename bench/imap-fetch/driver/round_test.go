package main

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailhorn/internal/auth"
	"mailhorn/internal/imapd"
	"mailhorn/internal/store"
)

// oneUser is an imapd.Authenticator with the user "bench".
type oneUser struct{ password string }

func (oneUser) Mechanisms(bool) []string { return nil }

func (oneUser) Start(context.Context, string, netip.Addr, bool) (auth.Exchange, error) {
	return nil, auth.ErrMechanism
}

func (a oneUser) Verify(_ context.Context, user, password string, _ netip.Addr) (*auth.User, error) {
	if user != "bench" || password != a.password {
		return nil, auth.ErrFailed
	}
	return &auth.User{Name: user, UID: -1, GID: -1}, nil
}

// TestRound runs rounds against mailhorn's imapd over a generated
// Maildir: a cold and a warm round pass every check (the STOREs leave the
// tree as it was), and a manifest that disagrees with the server fails the
// round with the step named.
func TestRound(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	m, err := generate(root, 120, 3)
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(store.Options{})
	defer st.Close()
	opts := imapd.DefaultOptions()
	opts.TLSAuthOnly = false
	srv := &imapd.Server{Opts: opts, Auth: oneUser{"pw"}, Store: st,
		Users: func(context.Context, *auth.User) (string, store.Quota, error) { return root, store.Quota{}, nil }}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(context.Background(), ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	self := server{
		memory: func() (treeMemory, error) { return readTree("/proc", os.Getpid(), "") },
		cpu:    func() cpuSnapshot { return readCPU("/proc", os.Getpid()) },
	}
	if err := waitListening(ctx, ln.Addr().String(), 5*time.Second); err != nil {
		t.Fatal(err)
	}

	for _, kind := range []string{"cold", "warm"} {
		r := result{System: "mailhorn", Kind: kind}
		if err := round(ctx, &r, m, ln.Addr().String(), "bench", "pw", self); err != nil {
			t.Fatalf("%s round: %v", kind, err)
		}
		if len(r.Seconds) != len(stepNames) || len(r.CPU) != len(stepNames) || r.Messages != 120 ||
			r.Bytes != m.Bytes || r.SearchHits != m.SearchHits || r.Bodies != 12 || r.Memory.TreeKiB <= 0 {
			t.Errorf("%s round: %+v", kind, r)
		}
	}

	for _, tc := range []struct {
		name string
		edit func(*manifest)
		want string
	}{
		{"count", func(m *manifest) { m.Messages++ }, "SELECT: 120 messages, want 121"},
		{"sizes", func(m *manifest) { m.Bytes-- }, "RFC822.SIZE sum"},
		{"flags", func(m *manifest) { m.Seen++ }, `\Seen`},
		{"envelopes", func(m *manifest) { m.Envelopes = "x" }, "ENVELOPE"},
		{"search", func(m *manifest) { m.SearchHits++ }, "UID SEARCH HEADER Subject quarterly"},
		{"login", nil, "LOGIN"},
	} {
		bad, pass := *m, "pw"
		if tc.edit != nil {
			tc.edit(&bad)
		} else {
			pass = "wrong"
		}
		r := result{System: "mailhorn", Kind: "warm"}
		err := round(ctx, &r, &bad, ln.Addr().String(), "bench", pass, self)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}
