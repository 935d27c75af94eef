package local

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mailhorn/internal/aliases"
	"mailhorn/internal/cleanup"
	"mailhorn/internal/config"
	"mailhorn/internal/deliver"
	"mailhorn/internal/deliver/delivertest"
	"mailhorn/internal/maillog"
	"mailhorn/internal/maps"
	"mailhorn/internal/privsep"
	"mailhorn/internal/store"
)

// fakeUsers is a passwd database whose homes live in a temporary directory
// and whose uid is ours, so ownership checks pass without root.
type fakeUsers struct {
	users map[string]User
	err   error
}

func (f *fakeUsers) Lookup(_ context.Context, name string) (User, bool, error) {
	if f.err != nil {
		return User{}, false, f.err
	}
	u, ok := f.users[name]
	return u, ok, nil
}

// submitted is one message given to the fake submitter.
type submitted struct {
	msg     *cleanup.Message
	content string
}

type fakeSubmitter struct {
	mu   sync.Mutex
	msgs []submitted
	err  error
}

func (f *fakeSubmitter) Submit(_ context.Context, m *cleanup.Message, content io.Reader) (string, error) {
	if f.err != nil {
		return "", f.err
	}
	data, err := io.ReadAll(content)
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, submitted{m, string(data)})
	return "FWD" + string(rune('A'+len(f.msgs)-1)), nil
}

// aliasTable holds aliases(5) text as postalias would store it.
type aliasTable map[string]string

func (m aliasTable) Lookup(_ context.Context, key string) (string, bool, error) {
	v, ok := m[maps.FoldKey(key)]
	return v, ok, nil
}

type failTable struct{}

func (failTable) Lookup(context.Context, string) (string, bool, error) {
	return "", false, errors.New("database down")
}

func parseAliases(t *testing.T, text string) aliasTable {
	t.Helper()
	entries, problems, err := aliases.Parse(strings.NewReader(text), "aliases", aliases.ParseOptions{})
	if err != nil || len(problems) > 0 {
		t.Fatalf("bad test aliases: %v %v", err, problems)
	}
	m := aliasTable{}
	for _, e := range entries {
		m[e.Name] = e.Value
	}
	return m
}

// env is one test set-up: an agent over temporary homes and spool.
type env struct {
	a     *Agent
	dir   string
	spool string
	sub   *fakeSubmitter
	log   *bytes.Buffer
	run   *selfRunner
}

const testAliases = `
postmaster: root
list: bob, carol@remote.test
mixed: bob, "|/bin/cat > @DIR@/mixed.out"
tofile: @DIR@/archive
tomaildir: @DIR@/md/
envtest: "|/usr/bin/env > @DIR@/env.out"
fail75: "|/bin/sh -c 'echo busy; exit 75'"
fail67: "|/bin/sh -c 'echo no such user; exit 67'"
dsnout: "|/bin/sh -c 'echo 5.7.1 go away; exit 1'"
list2: dave@remote.test, bob
owner-list2: listadmin
`

// newEnv builds an agent with users bob, alice and root, the test aliases
// and main.cf settings.
func newEnv(t *testing.T, settings map[string]string) *env {
	t.Helper()
	cfg, err := config.FromMap(settings)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	users := &fakeUsers{users: map[string]User{}}
	for _, n := range []string{"bob", "alice", "root", "privs"} {
		home := filepath.Join(dir, "home", n)
		if err := os.MkdirAll(home, 0o755); err != nil {
			t.Fatal(err)
		}
		users.users[n] = User{Name: n, UID: os.Getuid(), GID: os.Getgid(), Home: home, Shell: "/bin/sh"}
	}
	// default_privs must not be root, even when the test runs as root.
	users.users["privs"] = User{Name: "privs", UID: 65534, GID: 65534, Home: filepath.Join(dir, "home", "privs"), Shell: "/bin/sh"}
	if err := os.MkdirAll(spool, 0o755); err != nil {
		t.Fatal(err)
	}
	x := aliases.New(cfg, []aliases.Table{{Name: "hash:/etc/aliases", Table: parseAliases(t, strings.ReplaceAll(testAliases, "@DIR@", dir)), UID: 0, GID: 0}})
	sub := &fakeSubmitter{}
	var log bytes.Buffer
	a := New(cfg, x, users, store.NewWriter("host.example.test"), sub, maillog.New(&log, "mailhorn", "host").Service("local"))
	a.SpoolDir = spool
	a.DefaultPrivs = "privs"
	run := &selfRunner{in: privsep.InProcess{Maildirs: a.Writer, Now: func() time.Time { return a.now() }}}
	a.Runner = run
	a.Biff = nil
	a.Lock.Delay = time.Millisecond
	a.Lock.Attempts = 3
	a.Now = func() time.Time { return time.Date(2024, 3, 5, 7, 8, 9, 0, time.Local) }
	return &env{a: a, dir: dir, spool: spool, sub: sub, log: &log, run: run}
}

// selfRunner is the fake privileged runner: it records the identity each
// request asks for and runs it in-process as ourselves (the real switch
// of identity is privsep's business, tested there).
type selfRunner struct {
	mu   sync.Mutex
	reqs []privsep.Request
	in   privsep.InProcess
}

func (r *selfRunner) Run(ctx context.Context, req *privsep.Request) (privsep.Result, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, *req)
	r.mu.Unlock()
	c := *req
	c.As.UID, c.As.GID = os.Geteuid(), os.Getegid()
	return r.in.Run(ctx, &c)
}

// last is the identity of the last request.
func (r *selfRunner) last() privsep.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		return privsep.Request{}
	}
	return r.reqs[len(r.reqs)-1]
}

func (e *env) home(user string) string { return filepath.Join(e.dir, "home", user) }

// deliver1 delivers content to one recipient and returns the result.
func (e *env) deliver1(t *testing.T, content, rcpt string) deliver.Result {
	t.Helper()
	res := e.a.Deliver(context.Background(), delivertest.Request(t, content, rcpt))
	if len(res) != 1 || res[0].Relay != "local" {
		t.Fatalf("results %+v", res)
	}
	return res[0]
}

func check(t *testing.T, what string, r deliver.Result, st deliver.Status, dsn, text string) {
	t.Helper()
	if r.Status != st || r.DSN != dsn || !strings.Contains(r.Text, text) {
		t.Errorf("%s: got %v %s %q, want %v %s %q", what, r.Status, r.DSN, r.Text, st, dsn, text)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}

// maildirFiles returns the contents of the messages in dir/new.
func maildirFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(dir, "new"))
	var out []string
	for _, e := range ents {
		out = append(out, readFile(t, filepath.Join(dir, "new", e.Name())))
	}
	return out
}
