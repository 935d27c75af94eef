package privsep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailhorn/internal/deliver"
)

// The test binary doubles as the delivery helper: the Spawner starts it
// with this variable set.
const helperEnv = "MAILHORN_TEST_PRIVSEP_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		if err := Helper(context.Background(), os.NewFile(3, "request"), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(75)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const msg = "Subject: hi\n\nFrom me\n.dot\nbye\n"

func self() Identity { return Identity{User: "me", UID: os.Geteuid(), GID: os.Getegid()} }

func command(shell string) *Request {
	return &Request{Op: OpCommand, Source: SourceAlias, As: self(), Shell: shell, Size: int64(len(msg)), Content: strings.NewReader(msg)}
}

func run(t *testing.T, r Runner, req *Request) Result {
	t.Helper()
	res, err := r.Run(context.Background(), req)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

func want(t *testing.T, what string, r Result, st deliver.Status, dsn, text string) {
	t.Helper()
	if r.Status != st || r.DSN != dsn || !strings.Contains(r.Text, text) {
		t.Errorf("%s: got %v %s %q, want %v %s %q", what, r.Status, r.DSN, r.Text, st, dsn, text)
	}
}

func TestCommandStatus(t *testing.T) {
	var in InProcess
	for _, tc := range []struct {
		shell string
		st    deliver.Status
		dsn   string
		text  string
	}{
		{"/bin/true", deliver.Sent, "2.0.0", "delivered to command: /bin/true"},
		{"exit 75", deliver.Deferred, "4.3.0", "temporary failure"},
		{"echo oops; exit 71", deliver.Deferred, "4.3.0", "system resource problem. Command output: oops"},
		{"exit 67", deliver.Bounced, "5.1.1", "user unknown"},
		{"exit 78", deliver.Bounced, "5.3.5", "local configuration error"},
		{"echo x; exit 1", deliver.Bounced, "5.3.0", `Command died with status 1: "echo x; exit 1". Command output: x`},
		{"echo '4.2.2 mailbox full'; exit 1", deliver.Deferred, "4.2.2", "mailbox full"},
		{"echo '5.1.1 no such person' >&2; exit 75", deliver.Bounced, "5.1.1", "no such person"},
		{"kill -9 $$", deliver.Deferred, "4.3.0", "Command died with signal 9"},
		{"/nonexistent/program", deliver.Bounced, "5.3.0", "no such file"},
		{"exec 0<&-; echo closed", deliver.Sent, "2.0.0", ""}, // not reading the message is fine
	} {
		want(t, tc.shell, run(t, &in, command(tc.shell)), tc.st, tc.dsn, tc.text)
	}
}

// The command gets the prefix and the content, transformed as asked.
func TestCommandCopy(t *testing.T) {
	var in InProcess
	out := filepath.Join(t.TempDir(), "out")
	req := command("cat > " + out)
	req.Copy = Copy{Prefix: []byte("From x  Tue Mar  5 07:08:09 2024\nDelivered-To: a@b\n"), QuoteFrom: true, DotStuff: true, EOL: "\r\n", BlankLine: true}
	want(t, "copy", run(t, &in, req), deliver.Sent, "2.0.0", "")
	got, _ := os.ReadFile(out)
	if w := "From x  Tue Mar  5 07:08:09 2024\r\nDelivered-To: a@b\r\nSubject: hi\r\n\r\n>From me\r\n..dot\r\nbye\r\n\r\n"; string(got) != w {
		t.Errorf("got %q, want %q", got, w)
	}
	// Argv runs directly, with the environment given and no other.
	req = &Request{Op: OpCommand, Source: SourcePipe, As: self(), Argv: []string{"/bin/sh", "-c", "env > " + out + "; pwd >> " + out, "x"},
		Env: []string{"PATH=/usr/bin:/bin", "FOO=bar"}, Dir: t.TempDir(), Size: int64(len(msg)), Content: strings.NewReader(msg)}
	want(t, "argv", run(t, &in, req), deliver.Sent, "2.0.0", "")
	got, _ = os.ReadFile(out)
	if !strings.Contains(string(got), "FOO=bar\n") || strings.Contains(string(got), "HOME=") || !strings.HasSuffix(string(got), req.Dir+"\n") {
		t.Errorf("environment and directory: %q", got)
	}
}

// A command that hangs is killed at the time limit, with its children.
func TestCommandTimeLimit(t *testing.T) {
	var in InProcess
	pidFile := filepath.Join(t.TempDir(), "pid")
	req := command("sleep 60 & echo $! > " + pidFile + "; echo waiting; wait")
	req.TimeLimit = 300 * time.Millisecond
	start := time.Now()
	want(t, "hang", run(t, &in, req), deliver.Deferred, "4.3.0", "Command time limit exceeded")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	// The background sleep was in the command's process group: gone.
	for i := 0; ; i++ {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			break
		}
		if i > 100 {
			t.Fatalf("child %d of the command survived", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Cancelling the context stops a command too.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	res, _ := in.Run(ctx, command("sleep 60"))
	want(t, "cancel", res, deliver.Deferred, "4.3.0", "interrupted")
}

func TestOutputLimit(t *testing.T) {
	var in InProcess
	req := command("yes | head -c 100000; exit 1")
	req.OutputLimit = 100
	r := run(t, &in, req)
	if r.Status != deliver.Bounced || len(r.Text) > 300 {
		t.Errorf("got %v %d bytes of text", r.Status, len(r.Text))
	}
}

func TestInProcessOtherUser(t *testing.T) {
	var in InProcess
	req := command("true")
	req.As = Identity{User: "x", UID: os.Geteuid() + 1, GID: 1}
	text := fmt.Sprintf("mail system not running as root: cannot deliver as uid %d", req.As.UID)
	want(t, "other uid", run(t, &in, req), deliver.Deferred, "4.3.0", text)
	req = command("true")
	req.Op = "chmod"
	want(t, "bad op", run(t, &in, req), deliver.Deferred, "4.3.5", "unknown operation")
}

// failAfter is a writer that fails once n bytes have gone through.
type failAfter struct {
	w   io.Writer
	n   int
	err error
}

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n, _ := f.w.Write(p[:f.n])
		f.n = 0
		return n, f.err
	}
	f.n -= len(p)
	return f.w.Write(p)
}

func mboxReq(path, content string) *Request {
	return &Request{Op: OpMbox, Source: SourceMailbox, As: self(), Path: path, Lock: Lock{Dotlock: true, Fcntl: true, Attempts: 2, Delay: time.Millisecond},
		Copy: Copy{Prefix: []byte("From a  Tue Mar  5 07:08:09 2024\n"), QuoteFrom: true, BlankLine: true}, Size: int64(len(content)), Content: strings.NewReader(content)}
}

// A failed write leaves the mailbox exactly as it was.
func TestMboxTruncateOnError(t *testing.T) {
	big := "Subject: big\n\n" + strings.Repeat("line of text\n", 20000)
	for _, tc := range []struct {
		err  error
		st   deliver.Status
		dsn  string
		text string
	}{
		{syscall.EIO, deliver.Deferred, "4.3.0", "error writing message: input/output error"},
		{syscall.ENOSPC, deliver.Deferred, "4.3.0", "no space left on device"},
		{syscall.EDQUOT, deliver.Bounced, "5.2.2", "quota exceeded"},
	} {
		path := filepath.Join(t.TempDir(), "bob")
		var in InProcess
		want(t, "first", run(t, &in, mboxReq(path, msg)), deliver.Sent, "2.0.0", "delivered to mailbox")
		before, _ := os.ReadFile(path)
		in.wrap = func(w io.Writer) io.Writer { return &failAfter{w: w, n: 100000, err: tc.err} }
		req := mboxReq(path, big)
		req.As.User = "bob"
		r := run(t, &in, req)
		want(t, tc.err.Error(), r, tc.st, tc.dsn, tc.text)
		if !strings.HasPrefix(r.Text, "cannot update mailbox "+path+" for user bob. ") {
			t.Errorf("text %q", r.Text)
		}
		if after, _ := os.ReadFile(path); string(after) != string(before) {
			t.Errorf("%v: mailbox changed from %d to %d bytes", tc.err, len(before), len(after))
		}
	}
}

func TestFileTargets(t *testing.T) {
	var in InProcess
	dir := t.TempDir()
	req := mboxReq(filepath.Join(dir, "archive"), msg)
	req.Source = SourceAlias
	want(t, "file", run(t, &in, req), deliver.Sent, "2.0.0", "delivered to file: "+req.Path)
	if got, _ := os.ReadFile(req.Path); string(got) != "From a  Tue Mar  5 07:08:09 2024\nSubject: hi\n\n>From me\n.dot\nbye\n\n" {
		t.Errorf("file: %q", got)
	}
	// A device is written without locks or truncation (Postfix allows
	// /dev/null as a target).
	req = mboxReq("/dev/null", msg)
	req.Source = SourceAlias
	want(t, "device", run(t, &in, req), deliver.Sent, "2.0.0", "delivered to file: /dev/null")
	// A short content is deferred and leaves nothing.
	req = mboxReq(filepath.Join(dir, "short"), msg)
	req.Size += 10
	want(t, "short", run(t, &in, req), deliver.Deferred, "4.3.0", "error reading message")
	if got, _ := os.ReadFile(req.Path); len(got) != 0 {
		t.Errorf("short content left %q", got)
	}
	md := &Request{Op: OpMaildir, Source: SourceForward, As: self(), Path: filepath.Join(dir, "md") + "/", Copy: Copy{Prefix: []byte("X-A: b\n")}, Size: int64(len(msg)), Content: strings.NewReader(msg)}
	want(t, "maildir", run(t, &in, md), deliver.Sent, "2.0.0", "delivered to maildir: "+md.Path)
	ents, _ := os.ReadDir(filepath.Join(dir, "md", "new"))
	if len(ents) != 1 {
		t.Fatalf("maildir has %d messages", len(ents))
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "md", "new", ents[0].Name())); string(got) != "X-A: b\n"+msg {
		t.Errorf("maildir message %q", got)
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		req Request
		err string
	}{
		{Request{Op: OpMbox, Source: SourceAlias, Path: "relative"}, "not an absolute"},
		{Request{Op: OpMbox, Source: SourceAlias, Path: "/a/../etc/passwd"}, "not an absolute clean"},
		{Request{Op: OpMaildir, Source: SourceAlias, Path: "/a/b"}, "does not end in /"},
		{Request{Op: OpCommand, Source: SourceAlias}, "no command"},
		{Request{Op: OpCommand, Source: SourcePipe, Argv: []string{"cat"}}, "not an absolute path"},
		{Request{Op: OpMbox, Source: SourcePipe, Path: "/x"}, "pipe delivers to commands only"},
		{Request{Op: OpCommand, Source: SourceMailbox, Shell: "x"}, "a mailbox is not a command"},
		{Request{Op: OpMbox, Source: "remote", Path: "/x"}, "unknown source"},
		{Request{Op: OpMbox, Source: SourceAlias, Path: "/x", As: Identity{UID: -1}}, "no identity"},
	} {
		err := tc.req.Check()
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%+v: %v, want %q", tc.req, err, tc.err)
		}
	}
	for _, tc := range []struct {
		req Request
		ok  bool
	}{
		{Request{Op: OpMbox, Source: SourceMailbox, Path: "/var/mail/root", As: Identity{User: "root"}}, true},
		{Request{Op: OpMaildir, Source: SourceMailbox, Path: "/root/Maildir/", As: Identity{User: "root"}}, true},
		{Request{Op: OpMbox, Source: SourceAlias, Path: "/x", As: Identity{User: "root"}}, false},
		{Request{Op: OpCommand, Source: SourceForward, Shell: "x", As: Identity{User: "root"}}, false},
		{Request{Op: OpMbox, Source: SourceMailbox, Path: "/var/mail/bob", As: Identity{User: "bob", UID: 1000}}, false}, // gid 0
		{Request{Op: OpMbox, Source: SourceMailbox, Path: "/var/mail/bob", As: Identity{User: "bob", UID: 1000, GID: 8}}, true},
	} {
		if err := tc.req.checkPrivileges(); (err == nil) != tc.ok {
			t.Errorf("%+v: %v", tc.req, err)
		}
	}
}
