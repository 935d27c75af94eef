package local

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"mailhorn/internal/deliver"
	"mailhorn/internal/deliver/delivertest"
)

const quoted = "Subject: From test\n\nFrom here\n>From there\nFrom\nFromage\n"

func TestMboxFormat(t *testing.T) {
	e := newEnv(t, nil)
	check(t, "first", e.deliver1(t, quoted, "bob@example.test"), deliver.Sent, "2.0.0", "delivered to mailbox")
	req := delivertest.Request(t, "Subject: second\n\nno final newline", "bob@example.test")
	req.Sender = ""
	check(t, "second", e.a.Deliver(context.Background(), req)[0], deliver.Sent, "2.0.0", "delivered to mailbox")

	got := readFile(t, filepath.Join(e.spool, "bob"))
	want := "From alice@remote.test  Tue Mar  5 07:08:09 2024\n" +
		"Return-Path: <alice@remote.test>\nX-Original-To: bob@example.test\nDelivered-To: bob@example.test\n" +
		"Subject: From test\n\n>From here\n>From there\nFrom\nFromage\n\n" +
		"From MAILER-DAEMON  Tue Mar  5 07:08:09 2024\n" +
		"Return-Path: <>\nX-Original-To: bob@example.test\nDelivered-To: bob@example.test\n" +
		"Subject: second\n\nno final newline\n\n"
	if got != want {
		t.Errorf("mbox:\n%s\nwant:\n%s", got, want)
	}
	fi, _ := os.Stat(filepath.Join(e.spool, "bob"))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	if _, err := os.Stat(filepath.Join(e.spool, "bob.lock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dotlock left behind: %v", err)
	}
	checkWithPython(t, filepath.Join(e.spool, "bob"), []string{"From test", "second"})
}

// checkWithPython reads the mbox with Python's mailbox module, an
// independent mbox reader, and compares the subjects.
func checkWithPython(t *testing.T, path string, subjects []string) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Log("python3 not found: mbox checked by the Go comparison only")
		return
	}
	script := `import mailbox, json, sys
print(json.dumps([m["Subject"] for m in mailbox.mbox(sys.argv[1], create=False)]))`
	out, err := exec.Command(py, "-c", script, path).Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	var got []string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("python3 output %q: %v", out, err)
	}
	if strings.Join(got, "|") != strings.Join(subjects, "|") {
		t.Errorf("python sees subjects %q, want %q", got, subjects)
	}
}

func TestMboxRefusesLinks(t *testing.T) {
	e := newEnv(t, nil)
	target := filepath.Join(e.dir, "target")
	os.WriteFile(target, nil, 0o600)
	if err := os.Symlink(target, filepath.Join(e.spool, "bob")); err != nil {
		t.Fatal(err)
	}
	check(t, "symlink", e.deliver1(t, msg, "bob@example.test"), deliver.Bounced, "5.2.0", "symbolic link")
	if err := os.Link(target, filepath.Join(e.spool, "alice")); err != nil {
		t.Fatal(err)
	}
	check(t, "hard link", e.deliver1(t, msg, "alice@example.test"), deliver.Bounced, "5.2.0", "2 hard links")
	if readFile(t, target) != "" {
		t.Error("wrote through a link")
	}
}

func TestMboxStrictOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the mailbox to another user")
	}
	e := newEnv(t, nil)
	path := filepath.Join(e.spool, "bob")
	os.WriteFile(path, nil, 0o600)
	os.Chown(path, 12345, 12345)
	check(t, "owner", e.deliver1(t, msg, "bob@example.test"), deliver.Deferred, "4.2.0", "is not owned by recipient")
	e.a.StrictOwnership = false
	check(t, "not strict", e.deliver1(t, msg, "bob@example.test"), deliver.Sent, "2.0.0", "delivered to mailbox")
}

func TestMboxDotlock(t *testing.T) {
	e := newEnv(t, nil)
	lock := filepath.Join(e.spool, "bob.lock")
	if err := os.WriteFile(lock, nil, 0); err != nil {
		t.Fatal(err)
	}
	check(t, "locked", e.deliver1(t, msg, "bob@example.test"), deliver.Deferred, "4.2.0", "unable to create lock file")
	if readFile(t, filepath.Join(e.spool, "bob")) != "" {
		t.Error("wrote while locked")
	}
	// A lock older than stale_lock_time is broken.
	now := e.a.Now
	e.a.Now = func() time.Time { return time.Now().Add(e.a.Lock.Stale + time.Minute) }
	check(t, "stale", e.deliver1(t, msg, "bob@example.test"), deliver.Sent, "2.0.0", "delivered to mailbox")
	e.a.Now = now
	if _, err := os.Stat(lock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock: %v", err)
	}
}

func TestMboxFcntlLock(t *testing.T) {
	e := newEnv(t, nil)
	e.a.Lock.Dotlock = false
	path := filepath.Join(e.spool, "bob")
	os.WriteFile(path, nil, 0o600)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := lockOFD(f); err != nil {
		t.Fatal(err)
	}
	check(t, "locked", e.deliver1(t, msg, "bob@example.test"), deliver.Deferred, "4.2.0", "unable to lock for exclusive access")

	// The delivery waits for the lock and goes on once it is released.
	e.a.Lock.Attempts = 1 << 20
	done := make(chan deliver.Result)
	go func() {
		done <- e.a.Deliver(context.Background(), delivertest.Request(t, msg, "bob@example.test"))[0]
	}()
	time.Sleep(20 * time.Millisecond)
	if readFile(t, path) != "" {
		t.Error("wrote while locked")
	}
	f.Close()
	check(t, "after release", <-done, deliver.Sent, "2.0.0", "delivered to mailbox")

	// Cancelling the context stops the wait.
	f, _ = os.OpenFile(path, os.O_RDWR, 0)
	defer f.Close()
	lockOFD(f)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- e.a.Deliver(ctx, delivertest.Request(t, msg, "bob@example.test"))[0] }()
	cancel()
	check(t, "cancelled", <-done, deliver.Deferred, "4.3.0", "")
}

// A mail reader in another process holding a classic POSIX lock
// (lockf(3), as mutt and Python do) keeps the delivery waiting.
func TestMboxLockAgainstOtherProcess(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	e := newEnv(t, nil)
	e.a.Lock.Dotlock = false
	path := filepath.Join(e.spool, "bob")
	os.WriteFile(path, []byte("From x  Tue Mar  5 07:08:09 2024\nSubject: old\n\nold\n\n"), 0o600)
	cmd := exec.Command(py, "-c", `import fcntl, sys
f = open(sys.argv[1], "a")
fcntl.lockf(f, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()`, path)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "locked\n" {
		stdin.Close()
		t.Fatalf("python: %q", line)
	}
	check(t, "locked by python", e.deliver1(t, msg, "bob@example.test"), deliver.Deferred, "4.2.0", "unable to lock")
	stdin.Close()
	cmd.Wait()
	check(t, "released", e.deliver1(t, msg, "bob@example.test"), deliver.Sent, "2.0.0", "delivered to mailbox")
	checkWithPython(t, path, []string{"old", "hi"})
}

func TestMboxSizeLimit(t *testing.T) {
	e := newEnv(t, map[string]string{"mailbox_size_limit": "400"})
	path := filepath.Join(e.spool, "bob")
	check(t, "fits", e.deliver1(t, msg, "bob@example.test"), deliver.Sent, "2.0.0", "delivered to mailbox")
	before := readFile(t, path)
	check(t, "too big", e.deliver1(t, "Subject: x\n\n"+strings.Repeat("y", 300)+"\n", "bob@example.test"), deliver.Bounced, "5.2.2", "file too large")
	if readFile(t, path) != before {
		t.Error("mailbox changed")
	}
}

func TestMboxShortQueueFile(t *testing.T) {
	e := newEnv(t, nil)
	req := delivertest.Request(t, msg, "bob@example.test")
	req.ContentSize += 10000 // past the end of the file
	check(t, "short", e.a.Deliver(context.Background(), req)[0], deliver.Deferred, "4.3.0", "error reading message")
	if readFile(t, filepath.Join(e.spool, "bob")) != "" {
		t.Error("partial message left in the mailbox")
	}
}

func TestMboxConcurrent(t *testing.T) {
	e := newEnv(t, nil)
	e.a.Lock.Attempts = 1 << 20
	const n = 20
	done := make(chan deliver.Result)
	for range n {
		go func() {
			done <- e.a.Deliver(context.Background(), delivertest.Request(t, quoted, "bob@example.test"))[0]
		}()
	}
	for range n {
		if r := <-done; r.Status != deliver.Sent {
			t.Error(r)
		}
	}
	got := readFile(t, filepath.Join(e.spool, "bob"))
	if c := strings.Count(got, "\nFrom alice@remote.test  ") + 1; c != n {
		t.Errorf("%d messages, want %d", c, n)
	}
	checkWithPython(t, filepath.Join(e.spool, "bob"), strings.Split(strings.Repeat("From test|", n-1)+"From test", "|"))
}

// lockOFD takes the lock a concurrent delivery would hold.
func lockOFD(f *os.File) error {
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	return unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
}
