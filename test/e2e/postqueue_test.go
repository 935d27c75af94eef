package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// mailqEnvelopes is the queue content both systems are given.
var mailqEnvelopes = []struct {
	sender string
	rcpts  []string
}{
	{"carol@example.net", []string{"bob@elsewhere.example", "dave@elsewhere.example"}},
	{"erin@example.net", []string{"frank@elsewhere.example"}},
}

// TestMailqAgainstPostfix: the same queue content listed by Postfix's own
// postqueue -p and by mailhorn queue -p parses with the same line layout
// (docs/queue-tools.md) into the same messages. Postfix's side needs no
// daemon: its sendmail drops the messages into the maildrop queue of a
// scratch configuration and postqueue, finding no showq service, reads
// that queue directly (as root).
func TestMailqAgainstPostfix(t *testing.T) {
	t.Parallel()
	needRoot(t)
	postqueue := needTool(t, "postqueue")
	sendmail := "/usr/sbin/sendmail"
	if out, err := exec.Command("postconf", "-d", "mail_version").Output(); err != nil || !strings.HasPrefix(string(out), "mail_version = ") {
		needTool(t, "postconf")
		t.Skipf("postconf -d mail_version: %v %s", err, out)
	}
	pfOwner, err := user.Lookup("postfix")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Postfix's account: %v", err)
		}
		t.Skipf("Postfix's account: %v", err)
	}
	postdrop, err := user.LookupGroup("postdrop")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Postfix's group: %v", err)
		}
		t.Skipf("Postfix's group: %v", err)
	}
	ownerUID, _ := strconv.Atoi(pfOwner.Uid)
	dropGID, _ := strconv.Atoi(postdrop.Gid)

	// A scratch Postfix configuration whose queue only postdrop and
	// showq touch; nothing is started.
	dir, err := os.MkdirTemp("", "mailhorn-e2e-postfix-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	spool := filepath.Join(dir, "spool")
	for _, d := range []struct {
		name string
		mode os.FileMode
		gid  int
	}{
		{"", 0o755, 0}, {"maildrop", 0o1730, dropGID}, {"public", 0o2710, dropGID},
		{"incoming", 0o700, 0}, {"active", 0o700, 0}, {"deferred", 0o700, 0}, {"hold", 0o700, 0}, {"corrupt", 0o700, 0},
	} {
		p := filepath.Join(spool, d.name)
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		uid := ownerUID
		if d.name == "" {
			uid = 0
		}
		if err := os.Chown(p, uid, d.gid); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, d.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "main.cf"), []byte(fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %s
data_directory = %s/data
myhostname = mail.example.test
enable_long_queue_ids = yes
`, spool, dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "MAIL_CONFIG="+filepath.Join(dir, "etc"))
	for _, e := range mailqEnvelopes {
		cmd := exec.Command(sendmail, append([]string{"-f", e.sender}, e.rcpts...)...)
		cmd.Env = env
		cmd.Stdin = strings.NewReader("Subject: mailq shape\n\nhello\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("Postfix sendmail: %v\n%s", err, out)
		}
	}
	cmd := exec.Command(postqueue, "-p")
	cmd.Env = env
	pfOut, err := cmd.Output() // stderr: "Mail system is down -- accessing queue directly"
	if err != nil {
		t.Fatalf("postqueue -p: %v\n%s", err, pfOut)
	}
	t.Logf("postqueue -p:\n%s", pfOut)

	// mailhorn: the same envelopes, deferred (the relayhost is a closed
	// port).
	s := newSystem(t, options{mainCF: fmt.Sprintf("relayhost = [127.0.0.1]:%d\n", freePort(t))})
	s.start()
	c := dial(t, s.addr())
	c.cmd("EHLO inside.example", 250, "")
	for _, e := range mailqEnvelopes {
		id := c.sendMail(e.sender, e.rcpts, "Subject: mailq shape\r\n\r\nhello\r\n")
		for _, r := range e.rcpts {
			s.waitLog(id+": to=<"+r+">", "status=deferred")
		}
	}
	c.cmd("QUIT", 221, "")
	code, mhOut := s.mailhorn("queue", "-p", "-c", s.etc)
	if code != 0 {
		t.Fatalf("mailhorn queue -p: exit %d:\n%s", code, mhOut)
	}
	t.Logf("mailhorn queue -p:\n%s", mhOut)

	summary := func(entries []mailqEntry) string {
		var out []string
		for _, e := range entries {
			out = append(out, fmt.Sprintf("[%s] %s -> %s", e.status, e.sender, strings.Join(e.rcpts, " ")))
		}
		sort.Strings(out)
		return strings.Join(out, "\n")
	}
	pf := summary(parseMailq(t, "Postfix postqueue -p", string(pfOut)))
	mh := summary(parseMailq(t, "mailhorn queue -p", mhOut))
	if pf != mh || strings.Count(pf, "\n") != len(mailqEnvelopes)-1 {
		t.Errorf("same queue content, different listings:\nPostfix:\n%s\nmailhorn:\n%s", pf, mh)
	}
	s.stop()
}
