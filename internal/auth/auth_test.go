package auth

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"mailhorn/internal/anvil"
	"mailhorn/internal/auth/password"
	"mailhorn/internal/config"
)

// Cheap hashes of "secret" for tests (SHA-crypt at the minimum rounds).
const (
	aliceHash = "{SHA512-CRYPT}$6$rounds=1000$saltsalt$LAV5VE5Y7w1d73x1mFNspYWUpazfmwv2SoepNXNKJ/otop/Zok96Hr8Q13LEv0DRY/x8v0/crpIjl8NJSAqXV/"
)

var (
	client1 = netip.MustParseAddr("192.0.2.1")
	client2 = netip.MustParseAddr("192.0.2.2")
)

func TestMain(m *testing.M) {
	// Compute aliceHash's check once, to catch a wrong constant early.
	if ok, err := password.Verify(aliceHash, "secret"); !ok || err != nil {
		h, _ := password.Hash(password.SHA512Crypt, "secret")
		panic("aliceHash does not verify; e.g. " + h)
	}
	os.Exit(m.Run())
}

// newService builds a Service over a passwd-file with the given lines.
// The failure delay is set in the struct: main.cf has no unit below a
// second.
func newService(t *testing.T, lines string, settings map[string]string) (*Service, string, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "users")
	if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	set := map[string]string{
		"auth_user_maps":       "passwd-file:" + path,
		"auth_unix_users":      "no",
		"auth_password_scheme": "SHA512-CRYPT",
		"auth_mechanisms":      "PLAIN, LOGIN, SCRAM-SHA-256",
		"auth_failure_delay":   "1",
		"auth_failure_limit":   "10",
		"anvil_rate_time_unit": "60",
	}
	for k, v := range settings {
		set[k] = v
	}
	cfg, err := config.FromMap(set)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s, err := New(cfg, Options{Anvil: anvil.New(nil), Log: slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.delay = 5 * time.Millisecond
	t.Cleanup(func() { s.Close() })
	return s, path, &logs
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func TestParseLine(t *testing.T) {
	tests := []struct {
		line    string
		want    Entry
		wantErr string
	}{
		{"alice@example.com:{PLAIN}x:1000:1000::/home/alice::", Entry{User{Name: "alice@example.com", UID: 1000, GID: 1000, Home: "/home/alice"}, "{PLAIN}x"}, ""},
		{"bob:{PLAIN}y", Entry{User{Name: "bob", UID: -1, GID: -1}, "{PLAIN}y"}, ""},
		{"carol:{PLAIN}z:::Carol C:/h/c:/bin/false:userdb_mail=maildir:~/Mail quota_rule=*:storage=1G nopassword",
			Entry{User{Name: "carol", UID: -1, GID: -1, Home: "/h/c", Fields: map[string]string{"mail": "maildir:~/Mail", "quota_rule": "*:storage=1G", "nopassword": ""}}, "{PLAIN}z"}, ""},
		{"dave", Entry{User{Name: "dave", UID: -1, GID: -1}, ""}, ""},
		{":{PLAIN}x", Entry{}, "bad user name"},
		{"eve:{PLAIN}x:abc", Entry{}, `uid "abc" is not a number`},
		{"eve:{PLAIN}x:1:-1", Entry{}, `gid "-1" is not a number`},
		{"eve:{PLAIN}x:1:1::relative", Entry{}, "not an absolute path"},
		{"eve:{PLAIN}x:1:1::/h::=v", Entry{}, "has no name"},
		{"e\x01ve:{PLAIN}x", Entry{}, "bad user name"},
		{strings.Repeat("a", 256) + ":{PLAIN}x", Entry{}, "bad user name"},
	}
	for _, tt := range tests {
		got, err := ParseLine(tt.line)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseLine(%q) error %v, want %q", tt.line, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseLine(%q) = %+v, %v; want %+v", tt.line, got, err, tt.want)
		}
	}
}

func TestParseFile(t *testing.T) {
	src := "# users\n\nalice:{PLAIN}a\r\n  # indented comment\nbad:{PLAIN}b:x\nALICE:{PLAIN}dup\nbob:{PLAIN}b"
	users, problems, err := ParseFile(strings.NewReader(src), "/etc/users")
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || users["alice"].Password != "{PLAIN}a" || users["bob"] == nil {
		t.Errorf("users = %v", users)
	}
	var texts []string
	for _, p := range problems {
		texts = append(texts, p.Error())
	}
	want := []string{`/etc/users:5: user bad: uid "x" is not a number`, `/etc/users:6: duplicate user ALICE`}
	if !reflect.DeepEqual(texts, want) {
		t.Errorf("problems = %q, want %q", texts, want)
	}
}

func TestNormalizeName(t *testing.T) {
	for name, want := range map[string]string{
		"Alice@Example.COM": "alice@example.com", "a:b": "", "a\nb": "", "": "", "a\x7f": "",
		strings.Repeat("x", 255): strings.Repeat("x", 255), strings.Repeat("x", 256): "", "\xff": "", "é": "é",
	} {
		got, ok := NormalizeName(name)
		if got != want || ok != (want != "") {
			t.Errorf("NormalizeName(%.20q) = %q, %v; want %q", name, got, ok, want)
		}
	}
}

func TestVerifyAndReload(t *testing.T) {
	s, path, _ := newService(t, "# test users\nalice@example.com:"+aliceHash+":1000:1000::/home/alice::userdb_quota_rule=*:storage=1G\n", nil)
	ctx := context.Background()
	u, err := s.Verify(ctx, "Alice@Example.com", "secret", client1)
	if err != nil || u.Name != "alice@example.com" || u.UID != 1000 || u.Home != "/home/alice" || u.Fields["quota_rule"] != "*:storage=1G" {
		t.Fatalf("Verify = %+v, %v", u, err)
	}
	if _, err := s.Verify(ctx, "alice@example.com", "Secret", client1); !errors.Is(err, ErrFailed) {
		t.Errorf("wrong password: %v", err)
	}
	// An edit is seen without a restart.
	if err := os.WriteFile(path, []byte("bob:{PLAIN}pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Minute)
	os.Chtimes(path, future, future)
	if _, err := s.Verify(ctx, "bob", "pw", client1); err != nil {
		t.Errorf("bob after the edit: %v", err)
	}
	if _, err := s.Verify(ctx, "alice@example.com", "secret", client1); !errors.Is(err, ErrFailed) {
		t.Errorf("alice after her removal: %v", err)
	}
	if u, ok, err := s.Lookup(ctx, "BOB"); !ok || err != nil || u.Name != "bob" {
		t.Errorf("Lookup(BOB) = %v, %v, %v", u, ok, err)
	}
	if _, ok, err := s.Lookup(ctx, "nobody"); ok || err != nil {
		t.Errorf("Lookup(nobody) = %v, %v", ok, err)
	}
	// A file that disappears is a temporary failure, never "unknown".
	os.Remove(path)
	if _, err := s.Verify(ctx, "bob", "pw", client1); !errors.Is(err, ErrTemporary) {
		t.Errorf("missing file: %v", err)
	}
}

// TestTables: the same users through texthash and sqlite tables.
func TestTables(t *testing.T) {
	dir := t.TempDir()
	th := filepath.Join(dir, "users.txt")
	os.WriteFile(th, []byte("alice@example.com "+aliceHash+":1000:1000::/home/alice\nbob@example.com {PLAIN}bobpw\n"), 0o600)

	db := filepath.Join(dir, "users.sqlite")
	conn, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE users (name TEXT PRIMARY KEY, password TEXT, uid INTEGER, gid INTEGER, home TEXT)",
		"INSERT INTO users VALUES ('carol@example.com', '{PLAIN}carolpw', 5000, 5000, '/var/vmail/example.com/carol')",
	} {
		if _, err := conn.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close()
	// The query of docs/users.md.
	cf := filepath.Join(dir, "users.cf")
	os.WriteFile(cf, []byte("dbpath = "+db+"\nquery = SELECT password || ':' || uid || ':' || gid || '::' || home FROM users WHERE name = '%s'\n"), 0o644)

	s, _, _ := newService(t, "", map[string]string{"auth_user_maps": "texthash:" + th + ", sqlite:" + cf})
	ctx := context.Background()
	for _, c := range []struct{ name, pw, home string }{
		{"alice@example.com", "secret", "/home/alice"},
		{"BOB@example.com", "bobpw", ""},
		{"carol@example.com", "carolpw", "/var/vmail/example.com/carol"},
	} {
		u, err := s.Verify(ctx, c.name, c.pw, client1)
		if err != nil || u.Home != c.home {
			t.Errorf("Verify(%s) = %+v, %v", c.name, u, err)
		}
	}
	if _, err := s.Verify(ctx, "carol@example.com", "x", client1); !errors.Is(err, ErrFailed) {
		t.Errorf("carol, wrong password: %v", err)
	}
	if u, ok, _ := s.Lookup(ctx, "carol@example.com"); !ok || u.UID != 5000 {
		t.Errorf("Lookup carol = %+v, %v", u, ok)
	}
}

// run drives an exchange with the given responses (nil: none) and
// returns the challenges and the final result.
func run(ctx context.Context, x Exchange, responses ...[]byte) ([]string, bool, error) {
	var challenges []string
	for _, r := range responses {
		c, done, err := x.Next(ctx, r)
		if err != nil || done {
			return challenges, done, err
		}
		challenges = append(challenges, string(c))
	}
	return challenges, false, nil
}

func TestPlainAndLogin(t *testing.T) {
	s, _, logs := newService(t, "alice:"+aliceHash+"\n", nil)
	ctx := context.Background()
	b := func(s string) []byte { return []byte(s) }
	tests := []struct {
		mech       string
		responses  [][]byte
		challenges []string
		done       bool
		err        error
	}{
		{"PLAIN", [][]byte{b("\x00alice\x00secret")}, nil, true, nil},
		{"PLAIN", [][]byte{b("alice\x00alice\x00secret")}, nil, true, nil},
		{"PLAIN", [][]byte{b("ALICE\x00alice\x00secret")}, nil, true, nil},
		{"PLAIN", [][]byte{nil, b("\x00alice\x00secret")}, []string{""}, true, nil},
		{"PLAIN", [][]byte{b("bob\x00alice\x00secret")}, nil, false, ErrFailed}, // authzid of another
		{"PLAIN", [][]byte{b("\x00alice\x00wrong")}, nil, false, ErrFailed},
		{"PLAIN", [][]byte{b("")}, nil, false, ErrMalformed},
		{"PLAIN", [][]byte{b("alice\x00secret")}, nil, false, ErrMalformed},
		{"PLAIN", [][]byte{b("\x00\x00secret")}, nil, false, ErrMalformed},
		{"PLAIN", [][]byte{b("\x00alice\x00")}, nil, false, ErrMalformed},
		{"PLAIN", [][]byte{b("\x00alice\x00secret\x00")}, nil, false, ErrMalformed},
		{"PLAIN", [][]byte{b("\x00alice\x00\xff")}, nil, false, ErrMalformed},
		{"LOGIN", [][]byte{nil, b("alice"), b("secret")}, []string{"Username:", "Password:"}, true, nil},
		{"LOGIN", [][]byte{b("alice"), b("secret")}, []string{"Password:"}, true, nil},
		{"LOGIN", [][]byte{nil, b("alice"), b("nope")}, []string{"Username:", "Password:"}, false, ErrFailed},
		{"LOGIN", [][]byte{nil, b("al\x00ice")}, []string{"Username:"}, false, ErrMalformed},
	}
	for i, tt := range tests {
		x, err := s.Start(ctx, tt.mech, client1, true)
		if err != nil {
			t.Fatal(err)
		}
		ch, done, err := run(ctx, x, tt.responses...)
		if !reflect.DeepEqual(ch, tt.challenges) || done != tt.done || !errors.Is(err, tt.err) {
			t.Errorf("%d %s %q: challenges %q, done %v, err %v; want %q, %v, %v", i, tt.mech, tt.responses, ch, done, err, tt.challenges, tt.done, tt.err)
		}
		if done && (x.User() == nil || x.User().Name != "alice" || x.Username() == "") {
			t.Errorf("%d: user %+v, username %q", i, x.User(), x.Username())
		}
		if !done && x.User() != nil {
			t.Errorf("%d: a user after failure", i)
		}
	}
	if _, err := s.Start(ctx, "CRAM-MD5", client1, true); !errors.Is(err, ErrMechanism) {
		t.Errorf("CRAM-MD5: %v", err)
	}
	if l := logs.String(); !strings.Contains(l, `msg="SASL PLAIN authentication failed" client=192.0.2.1 sasl_username=alice`) || strings.Contains(l, "nope") || strings.Contains(l, "wrong") {
		t.Errorf("logs:\n%s", l)
	}
}

// TestUnknownLikeWrong: an unknown user and a wrong password give the
// same error, each after one hash verification and the failure delay.
func TestUnknownLikeWrong(t *testing.T) {
	s, _, _ := newService(t, "alice:"+aliceHash+"\n", nil)
	s.delay = 50 * time.Millisecond
	ctx := context.Background()
	for _, name := range []string{"alice", "nobody", "bad:name", ""} {
		before := s.verified.Load()
		start := time.Now()
		_, err := s.Verify(ctx, name, "wrong", client1)
		if !errors.Is(err, ErrFailed) || err.Error() != ErrFailed.Error() {
			t.Errorf("%q: %v", name, err)
		}
		if n := s.verified.Load() - before; n != 1 {
			t.Errorf("%q: %d hash verifications, want 1", name, n)
		}
		if time.Since(start) < s.delay {
			t.Errorf("%q: answered before the failure delay", name)
		}
	}
}

// TestFailureDelayOrder: a failure is answered after the delay, while a
// success started later is not held up by it.
func TestFailureDelayOrder(t *testing.T) {
	s, _, _ := newService(t, "alice:"+aliceHash+"\n", nil)
	s.delay = time.Hour // only ctx ends it
	ctx, cancel := context.WithCancel(context.Background())
	failed := make(chan error, 1)
	go func() {
		_, err := s.Verify(ctx, "alice", "wrong", client1)
		failed <- err
	}()
	// Wait until the failure is counted: it is then in its delay.
	for s.anvil.Count(anvil.AuthFailure, client1, time.Minute) == 0 {
		time.Sleep(time.Millisecond)
	}
	if _, err := s.Verify(context.Background(), "alice", "secret", client1); err != nil {
		t.Fatalf("success while a failure waits: %v", err)
	}
	select {
	case err := <-failed:
		t.Fatalf("failure answered before its delay: %v", err)
	default:
	}
	cancel()
	if err := <-failed; !errors.Is(err, ErrFailed) {
		t.Errorf("failure: %v", err)
	}
}

// TestLimitPerClient: after auth_failure_limit failures a client is
// refused at once, without a password check; another client still gets
// in; a success does not reset the count.
func TestLimitPerClient(t *testing.T) {
	s, _, _ := newService(t, "alice:"+aliceHash+"\n", map[string]string{"auth_failure_limit": "5"})
	ctx := context.Background()
	for i := range 4 {
		if _, err := s.Verify(ctx, "alice", "wrong", client1); !errors.Is(err, ErrFailed) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if _, err := s.Verify(ctx, "alice", "secret", client1); err != nil {
		t.Fatalf("right password under the limit: %v", err)
	}
	if _, err := s.Verify(ctx, "alice", "wrong", client1); !errors.Is(err, ErrFailed) {
		t.Fatalf("5th failure: %v", err)
	}
	s.delay = time.Hour // a refusal must not wait
	before := s.verified.Load()
	for range 95 {
		if _, err := s.Verify(ctx, "alice", "secret", client1); !errors.Is(err, ErrTooManyFailures) {
			t.Fatalf("over the limit: %v", err)
		}
	}
	if _, err := s.Start(ctx, "PLAIN", client1, true); !errors.Is(err, ErrTooManyFailures) {
		t.Errorf("Start over the limit: %v", err)
	}
	if n := s.verified.Load() - before; n != 0 {
		t.Errorf("%d hash verifications over the limit, want 0", n)
	}
	x, err := s.Start(ctx, "PLAIN", client2, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, done, err := x.Next(ctx, []byte("\x00alice\x00secret")); !done || err != nil {
		t.Errorf("other client: %v, %v", done, err)
	}
}

func TestNoUsersAndConfigErrors(t *testing.T) {
	cfg, _ := config.FromMap(map[string]string{"auth_password_scheme": "SHA256-CRYPT", "auth_mechanisms": "PLAIN", "auth_failure_limit": "10", "anvil_rate_time_unit": "60"})
	s, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.delay = 0
	if _, err := s.Verify(context.Background(), "root", "x", client1); !errors.Is(err, ErrFailed) {
		t.Errorf("no users: %v", err)
	}
	for k, v := range map[string]string{"auth_mechanisms": "PLAIN CRAM-MD5", "auth_password_scheme": "MD5", "auth_user_maps": "passwd-file:relative"} {
		// Refused by New, or already by the configuration's value check.
		cfg, err := config.FromMap(map[string]string{"auth_password_scheme": "ARGON2ID", k: v})
		if err == nil {
			_, err = New(cfg, Options{})
		}
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s = %s: %v", k, v, err)
		}
	}
}

func TestUnusableHashWarnsOnce(t *testing.T) {
	s, _, logs := newService(t, "yes:{CRYPT}$y$j9T$F5Jx5fExrKuPp53xLKQ..1$GmcwIgvdUC9qLWcKCi6gklUa1dM3ziD43YxYNURLKy0\n", nil)
	for range 3 {
		if _, err := s.Verify(context.Background(), "yes", "secret", client1); !errors.Is(err, ErrFailed) {
			t.Errorf("yescrypt: %v", err)
		}
	}
	if n := strings.Count(logs.String(), "cannot be verified"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs)
	}
}

// TestDummyHashes: every scheme's dummy hash is well formed, is no one's
// password, and has the cost parameters Hash uses today (else an unknown
// user would be cheaper, or dearer, than a real one).
func TestDummyHashes(t *testing.T) {
	params := func(h string) string {
		scheme, rest := password.Split(h)
		switch scheme {
		case password.Argon2ID:
			return strings.Join(strings.Split(rest, "$")[:4], "$") // $argon2id$v=..$m=..,t=..,p=..
		case password.BlfCrypt:
			return rest[:7] // $2y$12$
		case password.SHA512Crypt, password.SHA256Crypt:
			return rest[:3] // $6$ or $5$ (default rounds: none given)
		case password.ScramSHA256:
			return strings.Split(rest, ",")[0] // iterations
		}
		return scheme
	}
	for _, scheme := range password.Schemes() {
		dummy := dummyFor(scheme)
		if ok, err := password.Verify(dummy, "password"); ok || err != nil {
			t.Errorf("%s: dummy %q verifies %v, %v; want false, nil", scheme, dummy, ok, err)
		}
		fresh, err := password.Hash(scheme, "password")
		if err != nil {
			t.Fatal(err)
		}
		if params(dummy) != params(fresh) {
			t.Errorf("%s: dummy parameters %q, Hash makes %q", scheme, params(dummy), params(fresh))
		}
	}
}
