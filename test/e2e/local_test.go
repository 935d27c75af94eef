package e2e

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestRootLocalMbox: as root, with real accounts and mbox mailboxes in
// mail_spool_directory:
//   - mail to a user lands in spool/USER, owned by her, readable by
//     Python's mailbox.mbox and s-nail, with ">From " quoting;
//   - her .forward (hers, 0644) with \user keeps a copy, forwards to
//     another local user, and runs a |program as her (it writes `id -u`);
//   - aliases to /file and |program (root-owned aliases file) run as
//     default_privs (nobody);
//   - the same |program and /file given directly as SMTP recipients are
//     never executed nor written.
func TestRootLocalMbox(t *testing.T) {
	t.Parallel()
	r := newRootSystem(t, "")
	u1 := r.addUser("fwd")
	u2 := r.addUser("box")
	nobody := lookupUID(t, "nobody")

	fwdUID := filepath.Join(u1.home, "forward-prog.uid")
	r.writeAs(u1, filepath.Join(u1.home, ".forward"),
		fmt.Sprintf("\\%s, %s\n\"|id -u > %s\"\n", u1.name, u2.name, fwdUID), 0o644)
	aliasFile := filepath.Join(r.out, "alias-file.mbox")
	aliasUID := filepath.Join(r.out, "alias-prog.uid")
	r.setAliases(fmt.Sprintf("e2e-file: %s\ne2e-prog: \"|id -u > %s\"\n", aliasFile, aliasUID))
	r.start()
	c := dial(t, r.addr())
	c.cmd("EHLO client.e2e.test", 250, "")

	// 1. Plain delivery, with a body line that needs mbox quoting.
	body := "From: <carol@example.net>\r\nTo: <" + u2.name + "@localhost>\r\nSubject: plain\r\nMessage-ID: <mbox-1@e2e.test>\r\n\r\n" +
		"first line\r\nFrom the start of a line\r\nlast line\r\n"
	id1 := c.sendMail("carol@example.net", []string{u2.name + "@localhost"}, body)
	line := r.status(id1, u2.name+"@localhost", "sent")
	if !strings.Contains(line, "relay=local") || !strings.Contains(line, "delivered to mailbox") {
		t.Errorf("delivery line: %s", line)
	}
	box2 := filepath.Join(r.spool, u2.name)
	raw := r.owned(box2, u2.uid)
	if st, err := os.Stat(box2); err == nil && st.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want 0600", box2, st.Mode().Perm())
	}
	if !strings.HasPrefix(raw, "From carol@example.net  ") || !strings.Contains(raw, "\n>From the start of a line\n") {
		t.Errorf("%s: no From_ line or no >From quoting:\n%s", box2, raw)
	}
	msgs := readMbox(t, box2)
	if len(msgs) != 1 || msgs[0].MessageID != "<mbox-1@e2e.test>" || !strings.HasPrefix(msgs[0].From, "carol@example.net ") ||
		msgs[0].Delivered != u2.name+"@localhost" || !strings.Contains(msgs[0].Body, "\n>From the start of a line\nlast line\n") {
		t.Errorf("mailbox.mbox reads %s as %+v", box2, msgs)
	}

	// 2. .forward: \user keeps a copy, another local user, a |program.
	id2 := c.sendMail("carol@example.net", []string{u1.name + "@localhost"},
		testMessage("carol@example.net", u1.name+"@localhost", "<mbox-2@e2e.test>", "forwarded"))
	r.status(id2, u1.name+"@localhost", "sent")
	if got := strings.TrimSpace(r.waitFile(fwdUID, "\n")); got != strconv.Itoa(u1.uid) {
		t.Errorf(".forward |program ran as uid %s, want %s's %d", got, u1.name, u1.uid)
	}
	r.owned(fwdUID, u1.uid)
	box1 := filepath.Join(r.spool, u1.name)
	r.waitFile(box1, "<mbox-2@e2e.test>")
	r.waitFile(box2, "<mbox-2@e2e.test>")
	r.owned(box1, u1.uid)

	// 3. Aliases to a /file and a |program: root's aliases file, so
	// default_privs.
	id3 := c.sendMail("carol@example.net", []string{"e2e-file@localhost", "e2e-prog@localhost"},
		testMessage("carol@example.net", "e2e-file@localhost", "<mbox-3@e2e.test>", "to aliases"))
	r.status(id3, "e2e-file@localhost", "sent")
	r.status(id3, "e2e-prog@localhost", "sent")
	r.waitFile(aliasFile, "<mbox-3@e2e.test>")
	r.owned(aliasFile, nobody)
	if got := strings.TrimSpace(r.waitFile(aliasUID, "\n")); got != strconv.Itoa(nobody) {
		t.Errorf("alias |program ran as uid %s, want nobody's %d", got, nobody)
	}

	// 4. The same kinds of targets as recipient addresses a client
	// writes: refused at RCPT (local_recipient_maps knows no such user),
	// and, with local_recipient_maps empty (every local address accepted,
	// as Postfix documents), accepted but never executed nor written: the
	// local agent refuses them itself.
	r.directTargets(c, aliasFile, "<mbox-4@e2e.test>", u2, "<mbox-5@e2e.test>", false)
	c.cmd("QUIT", 221, "")
	conf, err := os.ReadFile(r.path("etc/main.cf"))
	if err != nil {
		t.Fatal(err)
	}
	r.writeFile("etc/main.cf", string(conf)+"local_recipient_maps =\n")
	if code, out := r.mailhorn("reload", "-c", r.etc); code != 0 {
		t.Fatalf("reload: exit %d: %s", code, out)
	}
	r.waitLog("reload -- version ")
	c = dial(t, r.addr())
	c.cmd("EHLO client.e2e.test", 250, "")
	r.directTargets(c, aliasFile, "<mbox-6@e2e.test>", u2, "<mbox-7@e2e.test>", true)
	c.cmd("QUIT", 221, "")

	// The mailboxes, read back by independent readers.
	want := map[string][]string{
		box1: {"<mbox-2@e2e.test>"},
		box2: {"<mbox-1@e2e.test>", "<mbox-2@e2e.test>", "<mbox-5@e2e.test>", "<mbox-7@e2e.test>"},
	}
	for box, ids := range want {
		msgs := readMbox(t, box)
		var got []string
		for _, m := range msgs {
			got = append(got, m.MessageID)
		}
		if strings.Join(got, " ") != strings.Join(ids, " ") {
			t.Errorf("%s holds %q, want %q", box, got, ids)
		}
	}
	t.Run("s-nail", func(t *testing.T) {
		for box, ids := range want {
			lines := snailHeaders(t, box)
			if len(lines) != len(ids) {
				t.Errorf("s-nail -H -f %s: %d lines, want %d:\n%s", box, len(lines), len(ids), strings.Join(lines, "\n"))
				continue
			}
			for i, m := range readMbox(t, box) {
				if !strings.Contains(lines[i], "carol@example.net") || !strings.HasSuffix(strings.TrimRight(lines[i], " "), " "+m.Subject) {
					t.Errorf("s-nail -H -f %s: line %d %q, want the sender and the subject %q", box, i+1, lines[i], m.Subject)
				}
			}
		}
	})
	r.stop()
}

// TestRootLocalMaildir: with home_mailbox = Maildir/, mail to a user lands
// in ~/Maildir/new, created and written as her.
func TestRootLocalMaildir(t *testing.T) {
	t.Parallel()
	r := newRootSystem(t, "home_mailbox = Maildir/")
	u := r.addUser("maildir")
	r.start()
	c := dial(t, r.addr())
	c.cmd("EHLO client.e2e.test", 250, "")
	id := c.sendMail("carol@example.net", []string{u.name + "@localhost"},
		testMessage("carol@example.net", u.name+"@localhost", "<maildir-1@e2e.test>", "to a Maildir"))
	c.cmd("QUIT", 221, "")
	if line := r.status(id, u.name+"@localhost", "sent"); !strings.Contains(line, "delivered to maildir") {
		t.Errorf("delivery line: %s", line)
	}
	files, _ := filepath.Glob(filepath.Join(u.home, "Maildir", "new", "*"))
	if len(files) != 1 {
		t.Fatalf("%s/Maildir/new holds %q, want one message", u.home, files)
	}
	raw := r.owned(files[0], u.uid)
	if !strings.Contains(raw, "Delivered-To: "+u.name+"@localhost\n") || !strings.Contains(raw, "Message-ID: <maildir-1@e2e.test>") {
		t.Errorf("%s:\n%s", files[0], raw)
	}
	for _, d := range []string{"Maildir", "Maildir/new", "Maildir/cur", "Maildir/tmp"} {
		r.ownedDir(filepath.Join(u.home, d), u.uid)
	}
	if _, err := os.Stat(filepath.Join(r.spool, u.name)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("home_mailbox = Maildir/, yet the spool has a mailbox for %s (%v)", u.name, err)
	}
	r.stop()
}

// TestRootForwardPrivateHome: a .forward in a home only its owner can
// enter (mode 0700, what Debian's adduser makes since bookworm) is still
// obeyed: Postfix's local(8) opens it with the user's rights.
func TestRootForwardPrivateHome(t *testing.T) {
	t.Parallel()
	r := newRootSystem(t, "")
	u1 := r.addUser("private")
	u2 := r.addUser("target")
	if err := os.Chmod(u1.home, 0o700); err != nil {
		t.Fatal(err)
	}
	r.writeAs(u1, filepath.Join(u1.home, ".forward"), u2.name+"\n", 0o644)
	r.start()
	c := dial(t, r.addr())
	c.cmd("EHLO client.e2e.test", 250, "")
	id := c.sendMail("carol@example.net", []string{u1.name + "@localhost"},
		testMessage("carol@example.net", u1.name+"@localhost", "<private-1@e2e.test>", "private home"))
	c.cmd("QUIT", 221, "")
	line := r.status(id, u1.name+"@localhost", "sent")
	r.waitQueueEmpty()
	if !strings.Contains(line, "forwarded as ") {
		t.Errorf("%s's .forward (home mode 0700) was not obeyed: %s", u1.name, line)
	}
	if _, err := os.Stat(filepath.Join(r.spool, u2.name)); err != nil {
		t.Errorf("nothing forwarded to %s: %v", u2.name, err)
	}
	r.stop()
}

// ownedDir checks that path is a directory owned by uid.
func (r *rootSystem) ownedDir(path string, uid int) {
	r.t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		r.t.Error(err)
		return
	}
	if !st.IsDir() {
		r.t.Errorf("%s is not a directory", path)
	}
	if got := int(st.Sys().(*syscall.Stat_t).Uid); got != uid {
		r.t.Errorf("%s is owned by uid %d, want %d", path, got, uid)
	}
}

// lookupUID is an existing account's uid.
func lookupUID(t *testing.T, name string) int {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("account %s: %v", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	return uid
}

// directTargets gives |command and /file targets as RCPT TO addresses,
// sends what is accepted (msgID), then a barrier message (barrierID) to
// u; once that is delivered and the queue empty, it checks that no
// command ran and no file was written. mustAccept: the server is
// configured to accept any local address (local_recipient_maps empty), so
// a 5XX at RCPT would mean the delivery agent goes untested.
func (r *rootSystem) directTargets(c *conn, aliasFile, msgID string, u unixUser, barrierID string, mustAccept bool) {
	t := r.t
	t.Helper()
	tag, _, _ := strings.Cut(strings.Trim(msgID, "<>"), "@")
	direct := []struct{ rcpt, trace string }{
		{`"|id -u > ` + r.out + `/` + tag + `-prog.uid"@localhost`, tag + "-prog.uid"},
		{`"|/bin/sh -c 'id -u > ` + r.out + `/` + tag + `-sh.uid'"@localhost`, tag + "-sh.uid"},
		{`"` + r.out + `/` + tag + `-file.mbox"@localhost`, tag + "-file.mbox"},
		{`"` + aliasFile + `"@localhost`, ""},
	}
	c.cmd("MAIL FROM:<>", 250, "")
	accepted := 0
	for _, d := range direct {
		c.send("RCPT TO:<" + d.rcpt + ">\r\n")
		code, msg := c.reply()
		t.Logf("RCPT TO:<%s>: %d %s", d.rcpt, code, msg)
		switch {
		case code == 250:
			accepted++
		case mustAccept || code/100 != 5:
			t.Errorf("RCPT TO:<%s>: %d %s, want 250 then a bounce", d.rcpt, code, msg)
		}
	}
	var id string
	if accepted > 0 {
		c.cmd("DATA", 354, "")
		c.send(testMessage("", "x@localhost", msgID, "direct targets") + ".\r\n")
		id = queueID(t, c.expect(250, "queued as"))
	} else {
		c.cmd("RSET", 250, "")
	}
	// A last message is the barrier: once it is in and the queue is
	// empty, nothing of the above is still on its way.
	bid := c.sendMail("carol@example.net", []string{u.name + "@localhost"},
		testMessage("carol@example.net", u.name+"@localhost", barrierID, "barrier"))
	r.status(bid, u.name+"@localhost", "sent")
	r.waitQueueEmpty()
	for _, d := range direct {
		if d.trace == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(r.out, d.trace)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("RCPT TO:<%s> from a client was executed or written: %s exists (%v)", d.rcpt, d.trace, err)
		}
	}
	if id != "" {
		lines := r.logLines(id + ": to=<")
		if len(lines) != accepted {
			t.Errorf("%d recipients accepted, %d delivery lines for %s:\n%s", accepted, len(lines), id, strings.Join(lines, "\n"))
		}
		for _, l := range lines {
			t.Logf("%s", l)
			if !strings.Contains(l, "status=bounced") {
				t.Errorf("a direct target was not bounced: %s", l)
			}
		}
	}
	if b, _ := os.ReadFile(aliasFile); strings.Contains(string(b), msgID) {
		t.Errorf("%s (an alias's file) was written through a recipient address", aliasFile)
	}
}

// TestRootMboxDiskFull: an mbox delivery that fails on a full file system
// (a 16 KB tmpfs as mail_spool_directory) leaves the mailbox exactly as it
// was and defers the message; once there is room again, a flush delivers
// it.
func TestRootMboxDiskFull(t *testing.T) {
	t.Parallel()
	r := newRootSystem(t, "")
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16k,mode=1777", "tmpfs", r.spool).CombinedOutput(); err != nil {
		t.Skipf("mount -t tmpfs not permitted here (%v): %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", r.spool).CombinedOutput(); err != nil {
			// Still busy (a process of the mail system not yet gone):
			// detach it now, the kernel frees it when unused.
			out2, err2 := exec.Command("umount", "-l", r.spool).CombinedOutput()
			t.Errorf("umount %s: %v\n%s(umount -l: %v %s)", r.spool, err, out, err2, out2)
		}
	})
	u := r.addUser("full")
	r.start()
	c := dial(t, r.addr())
	c.cmd("EHLO client.e2e.test", 250, "")
	rcpt := u.name + "@localhost"
	id1 := c.sendMail("carol@example.net", []string{rcpt}, testMessage("carol@example.net", rcpt, "<full-1@e2e.test>", "fits"))
	r.status(id1, rcpt, "sent")
	box := filepath.Join(r.spool, u.name)
	before := r.owned(box, u.uid)

	// Fill the file system; the mailbox's last page keeps some room, so
	// the next delivery starts writing and fails midway.
	filler := filepath.Join(r.spool, "filler")
	f, err := os.OpenFile(filler, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 512)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", r.spool, err)
			}
			break
		}
	}
	f.Close()
	big := strings.Repeat("0123456789 this line makes the message larger than the room left.\r\n", 200)
	id2 := c.sendMail("carol@example.net", []string{rcpt},
		testMessage("carol@example.net", rcpt, "<full-2@e2e.test>", "too big for the room left")+big)
	line := r.status(id2, rcpt, "deferred")
	t.Logf("%s", line)
	if after := r.owned(box, u.uid); after != before {
		t.Errorf("%s changed by the failed delivery: %d bytes, was %d", box, len(after), len(before))
	}
	if _, err := os.Stat(box + ".lock"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("dot lock left behind: %v", err)
	}
	if code, out := r.mailhorn("queue", "-p", "-c", r.etc); code != 0 || !strings.Contains(out, id2) {
		t.Errorf("queue -p does not list the deferred %s: exit %d:\n%s", id2, code, out)
	}

	// Room again: a flush delivers it, after the first message.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if code, out := r.mailhorn("queue", "-i", id2, "-c", r.etc); code != 0 {
		t.Errorf("queue -i %s: exit %d:\n%s", id2, code, out)
	}
	r.status(id2, rcpt, "sent")
	r.waitQueueEmpty()
	after := r.owned(box, u.uid)
	if !strings.HasPrefix(after, before) {
		t.Errorf("%s: the first message changed after the retry", box)
	}
	msgs := readMbox(t, box)
	if len(msgs) != 2 || msgs[0].MessageID != "<full-1@e2e.test>" || msgs[1].MessageID != "<full-2@e2e.test>" ||
		!strings.Contains(msgs[1].Body, strings.ReplaceAll(big, "\r\n", "\n")) {
		t.Errorf("%s after the retry: %d messages %+v", box, len(msgs), msgs)
	}
	c.cmd("QUIT", 221, "")
	r.stop()
}
