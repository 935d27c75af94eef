package privsep

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mailhorn/internal/deliver"
)

// The socket protocol, with the in-process runner behind it: requests,
// content and results cross; concurrent requests do not mix.
func TestClientServe(t *testing.T) {
	parent, child, err := SocketPair()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, parent, &InProcess{}) }()
	c, err := NewClient(child)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := filepath.Join(dir, strconv.Itoa(i))
			body := strings.Repeat("line "+strconv.Itoa(i)+"\n", 20000) // more than a pipe buffer
			req := &Request{Op: OpCommand, Source: SourceAlias, As: self(), Shell: "cat > " + out, Size: int64(len(body)), Content: strings.NewReader(body)}
			res, err := c.Run(context.Background(), req)
			if err != nil || res.Status != deliver.Sent {
				t.Errorf("%d: %+v %v", i, res, err)
				return
			}
			if got, _ := os.ReadFile(out); string(got) != body {
				t.Errorf("%d: command got %d bytes, want %d", i, len(got), len(body))
			}
		}()
	}
	wg.Wait()
	// A delivery the client gives up on is cancelled on the parent side.
	rctx, rcancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	start := time.Now()
	res, err := c.Run(rctx, command("sleep 30"))
	rcancel()
	if err != nil || res.Status != deliver.Deferred || time.Since(start) > 10*time.Second {
		t.Errorf("cancelled: %+v %v after %v", res, err, time.Since(start))
	}
	c.Close()
	if err := <-served; err != nil {
		t.Errorf("serve: %v", err)
	}
	cancel()
}

// privileged sets up a Spawner running this test binary as the helper,
// from a directory every user can reach.
func privileged(t *testing.T) (*Spawner, Account, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI runs the tests as root; this one needs root")
		}
		t.Skip("needs root: delivery as another user")
	}
	acct, err := LookupAccount("nobody")
	if err != nil {
		t.Skipf("no nobody account: %v", err)
	}
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "helper")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	spool := filepath.Join(dir, "spool")
	os.Mkdir(spool, 0o755)
	os.Chmod(spool, 0o1777)
	s := &Spawner{Exe: bin, Env: []string{helperEnv + "=1"}}
	s.SetPolicy(Policy{SpoolDir: spool, MailOwner: 12345})
	return s, acct, dir
}

func owner(t *testing.T, path string) int {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}

// The real privileged path: the parent checks a request and runs it in a
// helper as the user.
func TestSpawnerAsUser(t *testing.T) {
	s, nobody, dir := privileged(t)
	as := Identity{User: "nobody", UID: nobody.UID, GID: nobody.GID}

	out := filepath.Join(dir, "id.out")
	os.WriteFile(out, nil, 0o666)
	os.Chmod(out, 0o666)
	req := command("id -u > " + out + "; id -g >> " + out)
	req.As = as
	want(t, "command", run(t, s, req), deliver.Sent, "2.0.0", "delivered to command")
	if got, _ := os.ReadFile(out); string(got) != strconv.Itoa(nobody.UID)+"\n"+strconv.Itoa(nobody.GID)+"\n" {
		t.Errorf("command ran as %q, want uid %d gid %d", got, nobody.UID, nobody.GID)
	}

	files := filepath.Join(dir, "files")
	os.Mkdir(files, 0o777)
	os.Chmod(files, 0o777)
	req = mboxReq(filepath.Join(files, "archive"), msg)
	req.Source, req.As = SourceAlias, as
	want(t, "file", run(t, s, req), deliver.Sent, "2.0.0", "delivered to file")
	if u := owner(t, req.Path); u != nobody.UID {
		t.Errorf("file owned by %d", u)
	}

	// The mailbox in the spool, as the user.
	req = mboxReq(filepath.Join(dir, "spool", "nobody"), msg)
	req.As, req.StrictOwnership = as, true
	want(t, "mailbox", run(t, s, req), deliver.Sent, "2.0.0", "delivered to mailbox")
	if u := owner(t, req.Path); u != nobody.UID {
		t.Errorf("mailbox owned by %d", u)
	}
	if got, _ := os.ReadFile(req.Path); !strings.HasPrefix(string(got), "From a  ") {
		t.Errorf("mailbox %q", got)
	}
	// The user cannot write where she may not: the root-owned directory.
	req = mboxReq(filepath.Join(dir, "archive"), msg)
	req.Source, req.As = SourceAlias, as
	want(t, "no permission", run(t, s, req), deliver.Bounced, "5.2.0", "permission denied")

	// The same through the socket from an unprivileged child.
	parent, child, _ := SocketPair()
	go Serve(context.Background(), parent, s)
	c, _ := NewClient(child)
	defer c.Close()
	os.Truncate(out, 0)
	req = command("id -u > " + out)
	req.As = as
	res, err := c.Run(context.Background(), req)
	if err != nil || res.Status != deliver.Sent {
		t.Fatalf("via socket: %+v %v", res, err)
	}
	if got, _ := os.ReadFile(out); string(got) != strconv.Itoa(nobody.UID)+"\n" {
		t.Errorf("via socket ran as %q", got)
	}
}

// What the parent refuses.
func TestSpawnerRefuses(t *testing.T) {
	s, nobody, dir := privileged(t)
	as := Identity{User: "nobody", UID: nobody.UID, GID: nobody.GID}
	for _, tc := range []struct {
		name string
		req  *Request
		text string
	}{
		{"root command", &Request{Op: OpCommand, Source: SourceAlias, As: Identity{User: "root"}, Shell: "id"}, "refusing to deliver with root privileges"},
		{"root by number", &Request{Op: OpCommand, Source: SourceAlias, As: Identity{UID: 0, GID: 65534}, Shell: "id"}, "root privileges"},
		{"wrong uid", &Request{Op: OpCommand, Source: SourceAlias, As: Identity{User: "nobody", UID: 4242, GID: nobody.GID}, Shell: "id"}, "has uid"},
		{"foreign group", &Request{Op: OpCommand, Source: SourceForward, As: Identity{User: "nobody", UID: nobody.UID, GID: 4242}, Shell: "id"}, "is not a group of user nobody"},
		{"not the mailbox", &Request{Op: OpMbox, Source: SourceMailbox, As: as, Path: filepath.Join(dir, "elsewhere")}, "is not the mailbox of user nobody"},
		{"mail owner", &Request{Op: OpCommand, Source: SourcePipe, As: Identity{UID: 12345, GID: 12345}, Argv: []string{"/bin/true"}}, "mail system owner"},
		{"unknown user", &Request{Op: OpCommand, Source: SourceAlias, As: Identity{User: "no-such-user-here", UID: 4242, GID: 4242}, Shell: "id"}, "no-such-user-here"},
	} {
		tc.req.Content = strings.NewReader("")
		want(t, tc.name, run(t, s, tc.req), deliver.Deferred, "4.3.5", tc.text)
	}
	// Root's own mailbox is delivered as root, as local(8) does.
	root, err := user.Lookup("root")
	if err != nil {
		t.Skip(err)
	}
	s.SetPolicy(Policy{SpoolDir: filepath.Join(dir, "spool")})
	req := mboxReq(filepath.Join(dir, "spool", "root"), msg)
	req.As = Identity{User: "root", UID: 0, GID: 0}
	req.StrictOwnership = true
	want(t, "root mailbox", run(t, s, req), deliver.Sent, "2.0.0", "delivered to mailbox")
	_ = root
}
