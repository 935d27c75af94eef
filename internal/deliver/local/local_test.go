package local

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailhorn/internal/aliases"
	"mailhorn/internal/deliver"
	"mailhorn/internal/deliver/delivertest"
	"mailhorn/internal/privsep"
	"mailhorn/internal/queue"
)

const msg = "Subject: hi\n\nhello\n"

func TestMaildir(t *testing.T) {
	e := newEnv(t, map[string]string{"home_mailbox": "Maildir/"})
	check(t, "bob", e.deliver1(t, msg, "Bob@Example.test"), deliver.Sent, "2.0.0", "delivered to maildir")
	got := maildirFiles(t, filepath.Join(e.home("bob"), "Maildir"))
	want := "Return-Path: <alice@remote.test>\nX-Original-To: Bob@Example.test\nDelivered-To: Bob@Example.test\n" + msg
	if len(got) != 1 || got[0] != want {
		t.Errorf("maildir holds %q, want %q", got, want)
	}
	fi, err := os.Stat(filepath.Join(e.home("bob"), "Maildir", "new"))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("new/: %v %v", fi, err)
	}
}

func TestMaildirSizeLimit(t *testing.T) {
	e := newEnv(t, map[string]string{"home_mailbox": "Maildir/", "mailbox_size_limit": "60"})
	check(t, "too big", e.deliver1(t, "Subject: x\n\n"+strings.Repeat("y", 100)+"\n", "bob@example.test"), deliver.Bounced, "5.2.2", "file too large")
}

// The spool holds mbox files; home_mailbox without "/" is an mbox file in
// the home directory.
func TestMboxPaths(t *testing.T) {
	e := newEnv(t, nil)
	check(t, "spool", e.deliver1(t, msg, "bob@example.test"), deliver.Sent, "2.0.0", "delivered to mailbox")
	if !strings.Contains(readFile(t, filepath.Join(e.spool, "bob")), "hello") {
		t.Error("spool mbox not written")
	}
	e.a.HomeMailbox = "Mailbox"
	check(t, "home", e.deliver1(t, msg, "bob@example.test"), deliver.Sent, "2.0.0", "delivered to mailbox")
	if !strings.Contains(readFile(t, filepath.Join(e.home("bob"), "Mailbox")), "hello") {
		t.Error("home mbox not written")
	}
}

func TestLoop(t *testing.T) {
	e := newEnv(t, nil)
	r := e.deliver1(t, "Delivered-To: BOB@example.test\nSubject: x\n\nx\n", "bob@example.test")
	check(t, "loop", r, deliver.Bounced, "5.4.6", "mail forwarding loop for bob@example.test")
}

func TestUnknownUser(t *testing.T) {
	e := newEnv(t, nil)
	check(t, "unknown", e.deliver1(t, msg, "nobody@example.test"), deliver.Bounced, "5.1.1", `unknown user: "nobody"`)

	// postmaster -> root (alias); mailer-daemon has no alias and no account.
	check(t, "mailer-daemon", e.deliver1(t, msg, "MAILER-DAEMON@example.test"), deliver.Sent, "2.0.0", "discarded")
	if !strings.Contains(e.log.String(), "warning: required alias not found: mailer-daemon") {
		t.Errorf("log: %s", e.log)
	}

	e.a.LuserRelay = "catchall+$user@remote.test"
	check(t, "luser_relay", e.deliver1(t, msg, "nobody@example.test"), deliver.Sent, "2.0.0", "forwarded as FWDA")
	if len(e.sub.msgs) != 1 || e.sub.msgs[0].msg.Recipients[0].Address != "catchall+nobody@remote.test" {
		t.Errorf("luser_relay forwarded %+v", e.sub.msgs)
	}
}

func TestRootWithoutAlias(t *testing.T) {
	e := newEnv(t, map[string]string{"home_mailbox": "Maildir/"})
	check(t, "root", e.deliver1(t, msg, "root@example.test"), deliver.Sent, "2.0.0", "delivered to maildir")
	if !strings.Contains(e.log.String(), "warning: mail for root has no alias") {
		t.Errorf("no warning in %q", e.log)
	}
	// Through the postmaster alias: no warning needed.
	e.log.Reset()
	check(t, "postmaster", e.deliver1(t, msg, "postmaster@example.test"), deliver.Sent, "2.0.0", "delivered to maildir")
	if e.log.Len() != 0 {
		t.Errorf("unexpected log %q", e.log)
	}
}

func TestTableAndPasswdFailures(t *testing.T) {
	e := newEnv(t, nil)
	e.a.Expander.Tables = []aliases.Table{{Name: "hash:/etc/aliases", Table: failTable{}}}
	check(t, "alias table", e.deliver1(t, msg, "bob@example.test"), deliver.Deferred, "4.3.0", "alias database unavailable")

	e = newEnv(t, nil)
	e.a.Users.(*fakeUsers).err = os.ErrPermission
	check(t, "passwd", e.deliver1(t, msg, "bob@example.test"), deliver.Deferred, "4.0.0", "user lookup error")
}

func TestAliases(t *testing.T) {
	e := newEnv(t, map[string]string{"home_mailbox": "Maildir/"})
	maildir := filepath.Join(e.home("bob"), "Maildir")

	req := delivertest.Request(t, msg, "list@example.test")
	req.EnvID, req.Ret = "ENV1", "HDRS"
	req.Recipients[0].Notify = queue.NotifySuccess | queue.NotifyFailure
	r := e.a.Deliver(context.Background(), req)[0]
	check(t, "list", r, deliver.Sent, "2.0.0", "delivered to maildir, forwarded as FWDA")
	if got := maildirFiles(t, maildir); len(got) != 1 || !strings.Contains(got[0], "Delivered-To: list@example.test\n") {
		t.Errorf("bob's copy: %q", got)
	}
	if len(e.sub.msgs) != 1 {
		t.Fatalf("forwarded %d messages", len(e.sub.msgs))
	}
	f := e.sub.msgs[0]
	if f.msg.Sender != "alice@remote.test" || len(f.msg.Recipients) != 1 || f.msg.Recipients[0].Address != "carol@remote.test" ||
		f.msg.Recipients[0].Notify != queue.NotifyFailure {
		t.Errorf("forwarded envelope %+v", f.msg)
	}
	if f.content != "Delivered-To: list@example.test\n"+msg || !strings.HasPrefix(f.msg.Received, "Received: by ") {
		t.Errorf("forwarded content %q, received %q", f.content, f.msg.Received)
	}
	attrs := map[string]string{}
	for _, a := range f.msg.Attrs {
		attrs[a.Name] = a.Value
	}
	if attrs[queue.AttrEnvID] != "ENV1" || attrs[queue.AttrRet] != "HDRS" {
		t.Errorf("DSN attributes not passed on: %v", attrs)
	}

	// An alias with an owner-: its members get a new message from the
	// owner, even the local one.
	e.sub.msgs = nil
	check(t, "list2", e.deliver1(t, msg, "list2@example.test"), deliver.Sent, "2.0.0", "forwarded as FWDA")
	if len(e.sub.msgs) != 1 || e.sub.msgs[0].msg.Sender != "owner-list2" || len(e.sub.msgs[0].msg.Recipients) != 2 ||
		e.sub.msgs[0].msg.Recipients[1].Address != "bob@example.test" || len(e.sub.msgs[0].msg.Attrs) != 0 {
		t.Errorf("owner alias forwarded %+v", e.sub.msgs)
	}
	if got := maildirFiles(t, maildir); len(got) != 1 {
		t.Errorf("bob got %d messages, want the earlier one only", len(got))
	}
}

// |command and /file targets are restricted by allow_mail_to_*; allowed
// ones are delivered with the alias table owner's rights (root here:
// default_privs, the fake account "privs").
func TestCommandsAndFiles(t *testing.T) {
	e := newEnv(t, map[string]string{"home_mailbox": "Maildir/", "recipient_delimiter": "+"})
	maildir := filepath.Join(e.home("bob"), "Maildir")
	check(t, "command", e.deliver1(t, msg, "mixed@example.test"), deliver.Sent, "2.0.0", "delivered to maildir, delivered to command: /bin/cat > "+e.dir+"/mixed.out")
	if got := maildirFiles(t, maildir); len(got) != 1 {
		t.Errorf("bob got %d copies", len(got))
	}
	out := readFile(t, filepath.Join(e.dir, "mixed.out"))
	want := "From alice@remote.test  Tue Mar  5 07:08:09 2024\nReturn-Path: <alice@remote.test>\nX-Original-To: mixed@example.test\nDelivered-To: mixed@example.test\n" + msg
	if out != want {
		t.Errorf("command got %q, want %q", out, want)
	}

	check(t, "file", e.deliver1(t, quoted, "tofile@example.test"), deliver.Sent, "2.0.0", "delivered to file: "+e.dir+"/archive")
	if r := e.run.last(); r.As.User != "privs" || r.As.UID != 65534 || r.Source != privsep.SourceAlias || r.Op != privsep.OpMbox {
		t.Errorf("root-owned alias: request %+v, want default_privs", r)
	}
	check(t, "file again", e.deliver1(t, msg, "tofile@example.test"), deliver.Sent, "2.0.0", "delivered to file")
	checkWithPython(t, filepath.Join(e.dir, "archive"), []string{"From test", "hi"})
	if got := readFile(t, filepath.Join(e.dir, "archive")); !strings.Contains(got, "\n>From here\n>From there\nFrom\n") {
		t.Errorf("file not in mbox form: %q", got)
	}
	check(t, "maildir file", e.deliver1(t, msg, "tomaildir@example.test"), deliver.Sent, "2.0.0", "delivered to maildir: "+e.dir+"/md/")
	if got := maildirFiles(t, filepath.Join(e.dir, "md")); len(got) != 1 || !strings.HasPrefix(got[0], "Return-Path: <alice@remote.test>\nX-Original-To: tomaildir@example.test\n") {
		t.Errorf("maildir file: %q", got)
	}

	e = newEnv(t, map[string]string{"home_mailbox": "Maildir/", "allow_mail_to_commands": "forward", "allow_mail_to_files": "include"})
	maildir = filepath.Join(e.home("bob"), "Maildir")
	check(t, "command restricted", e.deliver1(t, msg, "mixed@example.test"), deliver.Bounced, "5.7.1", "mail to command is restricted")
	check(t, "file restricted", e.deliver1(t, msg, "tofile@example.test"), deliver.Bounced, "5.7.1", "mail to file is restricted")
	// The other member of the alias still gets the mail, as in Postfix.
	if got := maildirFiles(t, maildir); len(got) != 1 {
		t.Errorf("bob got %d copies", len(got))
	}
}

// A command gets local(8)'s environment.
func TestCommandEnvironment(t *testing.T) {
	e := newEnv(t, map[string]string{"recipient_delimiter": "+", "export_environment": "TZ MAILHORN_TEST_X LANG=C"})
	e.a.Getenv = func(k string) string { return map[string]string{"MAILHORN_TEST_X": "yes", "SECRET": "no"}[k] }
	req := delivertest.Request(t, msg, "envtest+ext@example.test")
	req.Recipients[0].Original = "EnvTest+Ext@Example.Test"
	req.Sender = "a;b@remote.test"
	check(t, "env", e.a.Deliver(context.Background(), req)[0], deliver.Sent, "2.0.0", "delivered to command")
	env := map[string]string{}
	for _, l := range strings.Split(readFile(t, filepath.Join(e.dir, "env.out")), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			env[k] = v
		}
	}
	for k, v := range map[string]string{
		"PATH": "/usr/bin:/bin", "LANG": "C", "MAILHORN_TEST_X": "yes", "SECRET": "",
		"HOME": e.home("privs"), "USER": "privs", "LOGNAME": "privs", "SHELL": "/bin/sh",
		"SENDER": "a_b@remote.test", "RECIPIENT": "envtest+ext@example.test", "ORIGINAL_RECIPIENT": "EnvTest+Ext@Example.Test",
		"LOCAL": "envtest+ext", "EXTENSION": "ext", "DOMAIN": "example.test",
	} {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
}

// Exit statuses map as in Postfix's pipe_command.
func TestCommandStatus(t *testing.T) {
	e := newEnv(t, nil)
	check(t, "75", e.deliver1(t, msg, "fail75@example.test"), deliver.Deferred, "4.3.0", "temporary failure. Command output: busy")
	check(t, "67", e.deliver1(t, msg, "fail67@example.test"), deliver.Bounced, "5.1.1", "user unknown. Command output: no such user")
	check(t, "dsn in output", e.deliver1(t, msg, "dsnout@example.test"), deliver.Bounced, "5.7.1", "go away")
}

func writeForward(t *testing.T, path, text string, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
}

func TestDotForward(t *testing.T) {
	e := newEnv(t, map[string]string{"home_mailbox": "Maildir/"})
	maildir := filepath.Join(e.home("bob"), "Maildir")
	fwd := filepath.Join(e.home("bob"), ".forward")

	writeForward(t, fwd, "# keep a copy\n\\bob, elsewhere@remote.test\nalice\n", 0o644)
	check(t, "forward", e.deliver1(t, msg, "bob@example.test"), deliver.Sent, "2.0.0", "delivered to maildir, forwarded as FWDA")
	if got := maildirFiles(t, maildir); len(got) != 1 {
		t.Errorf("bob kept %d copies", len(got))
	}
	// Another local user in a .forward gets a new message, as local(8).
	if len(e.sub.msgs) != 1 || len(e.sub.msgs[0].msg.Recipients) != 2 || e.sub.msgs[0].msg.Recipients[1].Address != "alice@example.test" {
		t.Errorf("forwarded %+v", e.sub.msgs)
	}

	// Only forwarding: no copy.
	writeForward(t, fwd, "elsewhere@remote.test\n", 0o644)
	check(t, "forward only", e.deliver1(t, msg, "bob@example.test"), deliver.Sent, "2.0.0", "forwarded as FWDB")

	// An empty .forward means the mailbox.
	writeForward(t, fwd, "# nothing\n", 0o644)
	check(t, "empty", e.deliver1(t, msg, "bob@example.test"), deliver.Sent, "2.0.0", "delivered to maildir")

	// A world-writable .forward is ignored with a warning. Postfix checks
	// world write permission only, so group-writable is accepted.
	writeForward(t, fwd, "elsewhere@remote.test\n", 0o666)
	check(t, "world writable", e.deliver1(t, msg, "bob@example.test"), deliver.Sent, "2.0.0", "delivered to maildir")
	if !strings.Contains(e.log.String(), "is world writable") {
		t.Errorf("log %q", e.log)
	}
	writeForward(t, fwd, "elsewhere@remote.test\n", 0o664)
	check(t, "group writable", e.deliver1(t, msg, "bob@example.test"), deliver.Sent, "2.0.0", "forwarded as")

	// A symbolic link is not a regular file.
	os.Remove(fwd)
	target := filepath.Join(e.dir, "elsewhere")
	writeForward(t, target, "elsewhere@remote.test\n", 0o644)
	if err := os.Symlink(target, fwd); err != nil {
		t.Fatal(err)
	}
	check(t, "symlink", e.deliver1(t, msg, "bob@example.test"), deliver.Sent, "2.0.0", "delivered to maildir")
	if !strings.Contains(e.log.String(), "is not a regular file") {
		t.Errorf("log %q", e.log)
	}

	// A .forward owned by another user is ignored (needs root to set up).
	if os.Geteuid() == 0 {
		os.Remove(fwd)
		writeForward(t, fwd, "elsewhere@remote.test\n", 0o644)
		if err := os.Chown(fwd, 12345, 12345); err != nil {
			t.Fatal(err)
		}
		check(t, "bad owner", e.deliver1(t, msg, "bob@example.test"), deliver.Sent, "2.0.0", "delivered to maildir")
		if !strings.Contains(e.log.String(), "has bad owner uid 12345") {
			t.Errorf("log %q", e.log)
		}
	}

	// A command in .forward is allowed by default (allow_mail_to_commands
	// = alias, forward) and runs as the user (here: our own uid).
	os.Remove(fwd)
	writeForward(t, fwd, "\"|/bin/sh -c 'echo $USER $HOME > "+e.dir+"/fwd.out'\"\n", 0o644)
	check(t, "command", e.deliver1(t, msg, "bob@example.test"), deliver.Sent, "2.0.0", "delivered to command")
	want := "bob " + e.home("bob") + "\n"
	if os.Geteuid() == 0 {
		want = "privs " + e.home("privs") + "\n" // bob has uid 0 here: default_privs
	}
	if r := e.run.last(); r.Source != privsep.SourceForward || r.Op != privsep.OpCommand || (os.Geteuid() != 0 && r.As.User != "bob") {
		t.Errorf(".forward command request %+v", r)
	}
	if got := readFile(t, filepath.Join(e.dir, "fwd.out")); got != want {
		t.Errorf("command as %q, want %q", got, want)
	}
}

func TestExtensions(t *testing.T) {
	e := newEnv(t, map[string]string{"home_mailbox": "Maildir/", "recipient_delimiter": "+"})
	maildir := filepath.Join(e.home("bob"), "Maildir")
	check(t, "bob+foo", e.deliver1(t, msg, "bob+foo@example.test"), deliver.Sent, "2.0.0", "delivered to maildir")
	if got := maildirFiles(t, maildir); len(got) != 1 || !strings.Contains(got[0], "Delivered-To: bob+foo@example.test\n") {
		t.Errorf("bob+foo: %q", got)
	}
	// user+ext of an alias: the alias.
	e.sub.msgs = nil
	check(t, "list+x", e.deliver1(t, msg, "list+x@example.test"), deliver.Sent, "2.0.0", "forwarded as")

	// .forward+ext is used for that extension only.
	writeForward(t, filepath.Join(e.home("bob"), ".forward+lists"), "lists@remote.test\n", 0o644)
	e.sub.msgs = nil
	check(t, "bob+lists", e.deliver1(t, msg, "bob+lists@example.test"), deliver.Sent, "2.0.0", "forwarded as FWDA")
	if len(e.sub.msgs) != 1 || e.sub.msgs[0].msg.Recipients[0].Address != "lists@remote.test" {
		t.Errorf("forwarded %+v", e.sub.msgs)
	}
	check(t, "bob+other", e.deliver1(t, msg, "bob+other@example.test"), deliver.Sent, "2.0.0", "delivered to maildir")

	// An extension with '/' never reaches forward_path.
	writeForward(t, filepath.Join(e.home("bob"), ".forward+..")+"x", "evil@remote.test\n", 0o644)
	check(t, "bob+../x", e.deliver1(t, msg, "bob+../x@example.test"), deliver.Sent, "2.0.0", "delivered to maildir")
	if !strings.Contains(e.log.String(), "address with illegal extension") {
		t.Errorf("log %q", e.log)
	}
}

// mailbox_command replaces the mailbox: run as the user, with $USER,
// $EXTENSION, ... expanded and the message on standard input.
func TestMailboxCommand(t *testing.T) {
	e := newEnv(t, map[string]string{"recipient_delimiter": "+"})
	out := filepath.Join(e.dir, "mbcmd.out")
	e.a.MailboxCommand = "/bin/sh -c 'echo $USER ${EXTENSION?+$EXTENSION} > " + out + "; cat >> " + out + "'"
	check(t, "bob+x", e.deliver1(t, msg, "bob+x@example.test"), deliver.Sent, "2.0.0", "delivered to command")
	got := readFile(t, out)
	if !strings.HasPrefix(got, "bob +x\nFrom ") || !strings.Contains(got, "Delivered-To: bob+x@example.test\n") {
		t.Errorf("mailbox_command output:\n%s", got)
	}
	if r := e.run.last(); r.As.User != "bob" || r.Op != privsep.OpCommand {
		t.Errorf("ran %+v, want a command as bob", r)
	}
	if files, _ := filepath.Glob(filepath.Join(e.dir, "spool", "*")); len(files) != 0 {
		t.Errorf("mailbox written too: %q", files)
	}
}

func TestUnsupportedSettings(t *testing.T) {
	e := newEnv(t, map[string]string{"mailbox_transport": "lmtp:unix:/x"})
	check(t, "mailbox_transport", e.deliver1(t, msg, "bob@example.test"), deliver.Deferred, "4.3.5", "not supported")
	e = newEnv(t, map[string]string{"fallback_transport": "lmtp:unix:/x"})
	check(t, "fallback_transport", e.deliver1(t, msg, "nosuchuser@example.test"), deliver.Deferred, "4.3.5", "not supported")
}

func TestForwardFailures(t *testing.T) {
	e := newEnv(t, nil)
	e.sub.err = os.ErrDeadlineExceeded
	check(t, "submit", e.deliver1(t, msg, "list@example.test"), deliver.Deferred, "4.3.0", "cannot forward")
	e.a.Submitter = nil
	check(t, "no submitter", e.deliver1(t, msg, "list@example.test"), deliver.Deferred, "4.3.5", "no queue")
}
