package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Issue 7's access agents seen by real clients: mbsync, fetchmail and mutt
// (this file), Python's imaplib and poplib (imap_test.go, pop3_test.go),
// against a running mailhorn whose imapd and pop3d are master.cf services.

// access is a mail system with IMAP and POP3 services: imap (STARTTLS),
// imaps (TLS at connect), pop3 (STLS) and pop3s ports on 127.0.0.1, the
// users alice, bob and carol (carol's quota: two messages) of a
// passwd-file, their INBOX the Maildir the virtual agent delivers to.
type access struct {
	*system
	imap, imaps, pop3, pop3s int
	tls                      *tls.Config
	cert                     string // the server's certificate (PEM), for the clients to trust
}

// password is a test user's password.
func password(user string) string { return user + "-demo-password" }

// startAccess starts an access system; extra is appended to main.cf.
func startAccess(t *testing.T, extra string) *access {
	t.Helper()
	s := newSystem(t, options{users: []string{"alice", "bob", "carol"}})
	a := &access{system: s, cert: s.path("etc/cert.pem")}
	// mail_location: the virtual agent's Maildir (virtual_mailbox_base
	// plus the vmailbox entry "alice/"), by the local part.
	a.tls = s.enableAuth(map[string]string{
		"alice@" + domain: password("alice"),
		"bob@" + domain:   password("bob"),
	}, "mail_location = maildir:"+s.path("mail")+"/%n\n"+extra)
	// carol has a quota of her own, as a userdb extra field.
	cmd := exec.Command(mailhornBin, "user", "add", "carol@"+domain, "-c", s.etc, "-e", "userdb_quota_rule=*:messages=2")
	cmd.Stdin = strings.NewReader(password("carol") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mailhorn user add carol: %v\n%s", err, out)
	}
	if err := os.Chown(s.path("etc/users"), runAs.uid, runAs.gid); err != nil {
		t.Fatal(err)
	}
	a.imap, a.imaps, a.pop3, a.pop3s = freePort(t), freePort(t), freePort(t), freePort(t)
	s.addService(fmt.Sprintf(`127.0.0.1:%d inet n - n - - imapd
127.0.0.1:%d inet n - n - - imapd
  -o imapd_tls_wrappermode=yes
127.0.0.1:%d inet n - n - - pop3d
127.0.0.1:%d inet n - n - - pop3d
  -o pop3d_tls_wrappermode=yes
`, a.imap, a.imaps, a.pop3, a.pop3s))
	s.start()
	for _, p := range []int{a.imap, a.imaps, a.pop3, a.pop3s} {
		waitListening(t, "127.0.0.1:"+strconv.Itoa(p), nil)
	}
	return a
}

// maildir is a user's INBOX Maildir on the server.
func (a *access) maildir(user string) string { return a.path("mail/" + user) }

// deliver sends messages over SMTP to user@example.test, one after the
// other: each is in her Maildir before the next is sent, so that their
// UIDs follow the order given. total is how many messages the Maildirs
// hold at the end.
func (a *access) deliver(user string, total int, subjects ...string) {
	a.t.Helper()
	c := dial(a.t, a.addr())
	c.cmd("EHLO client.example.net", 250, "")
	for i, s := range subjects {
		c.sendMail("carol@example.net", []string{user + "@" + domain},
			testMessage("carol@example.net", user+"@"+domain, "<"+s+"@e2e.test>", s))
		a.waitDelivered(total - len(subjects) + i + 1)
	}
	c.cmd("QUIT", 221, "")
}

// python runs a script of testdata/ with arguments and returns its
// standard output; it fails the test when the script fails.
func python(t *testing.T, script string, args ...string) string {
	t.Helper()
	cmd := exec.Command(needTool(t, "python3"), append([]string{filepath.Join("testdata", script)}, args...)...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("python3 %s %q: %v\nstdout:\n%s\nstderr:\n%s", script, args, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// subdir makes a directory in parent and returns its path.
func subdir(t *testing.T, parent, name string) string {
	t.Helper()
	p := filepath.Join(parent, name)
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

// pythonSteps runs a script of testdata/ that prints one JSON object,
// step name -> what the server replied, and returns it.
func pythonSteps(t *testing.T, script string, args ...string) map[string]string {
	t.Helper()
	out := python(t, script, args...)
	var got map[string]string
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%s output: %v\n%s", script, err, out)
	}
	return got
}

// stepWant is what a recorded step must contain.
type stepWant struct {
	step string
	want []string
}

// checkSteps checks the recorded steps.
func checkSteps(t *testing.T, got map[string]string, wants []stepWant) {
	t.Helper()
	for _, c := range wants {
		g, ok := got[c.step]
		if !ok {
			t.Errorf("%s: not run", c.step)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(g, w) {
				t.Errorf("%s: lacks %q:\n%s", c.step, w, g)
			}
		}
	}
}

// serverFiles lists the message files of a folder on the server ("" is
// INBOX, "Archive" the Maildir++ folder .Archive): names of cur/ and new/.
func (a *access) serverFiles(user, folder string) []string {
	a.t.Helper()
	dir := a.maildir(user)
	if folder != "" {
		dir = filepath.Join(dir, "."+folder)
	}
	var names []string
	for _, sub := range []string{"cur", "new"} {
		es, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil && !os.IsNotExist(err) {
			a.t.Fatal(err)
		}
		for _, e := range es {
			names = append(names, sub+"/"+e.Name())
		}
	}
	return names
}

// TestMbsync: mbsync (isync) syncs alice's account both ways with a local
// Maildir over IMAP with STARTTLS: delivered messages reach the local
// Maildir; a flag set locally (the file renamed ...:2,FS) reaches the
// server, over IMAP and in the server's file name; a message moved on the
// server (IMAP MOVE to Archive, by imaplib) moves locally; a message
// deleted locally is expunged on the server.
func TestMbsync(t *testing.T) {
	t.Parallel()
	mbsync := needTool(t, "mbsync")
	a := startAccess(t, "")
	a.deliver("alice", 2, "sync1", "sync2")
	home := t.TempDir()
	local := subdir(t, home, "Mail")
	// mbsync checks the certificate's DNS names only (not its IP address):
	// Host is localhost.
	rc := filepath.Join(home, "mbsyncrc")
	if err := os.WriteFile(rc, []byte(fmt.Sprintf(`IMAPAccount server
Host localhost
Port %d
User alice@%s
Pass %s
SSLType STARTTLS
CertificateFile %s

IMAPStore remote
Account server

MaildirStore local
Path %[5]s/
Inbox %[5]s/INBOX
SubFolders Verbatim

Channel all
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
Sync All
SyncState *
`, a.imap, domain, password("alice"), a.cert, local)), 0o600); err != nil {
		t.Fatal(err)
	}
	sync := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		cmd := exec.CommandContext(ctx, mbsync, "-c", rc, "-a")
		cmd.Env = append(os.Environ(), "HOME="+home)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("mbsync: %v\n%s", err, out)
		}
	}
	// localFile finds the local file of the message with subject in a
	// folder ("" if none).
	localFile := func(folder, subject string) string {
		t.Helper()
		files, _ := filepath.Glob(filepath.Join(local, folder, "*", "*"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if headerValue(strings.ReplaceAll(string(b), "\r\n", "\n"), "Subject") == subject {
				return f
			}
		}
		return ""
	}
	// imapFlags is the flags of the INBOX message with subject, by imaplib.
	imapFlags := func(subject string) string {
		return python(t, "imap_one.py", strconv.Itoa(a.imap), a.cert, "alice@"+domain, password("alice"), "flags", subject)
	}

	sync()
	one, two := localFile("INBOX", "sync1"), localFile("INBOX", "sync2")
	if one == "" || two == "" {
		files, _ := filepath.Glob(filepath.Join(local, "*", "*", "*"))
		t.Fatalf("after the first sync the local INBOX lacks sync1 or sync2: %q", files)
	}
	for _, f := range []string{"Sent", "Drafts", "Trash", "Junk", "Archive"} {
		if _, err := os.Stat(filepath.Join(local, f, "cur")); err != nil {
			t.Errorf("the server's folder %s was not created locally: %v", f, err)
		}
	}

	// A flag set locally reaches the server.
	base, _, _ := strings.Cut(filepath.Base(one), ":2,")
	flagged := filepath.Join(local, "INBOX", "cur", base+":2,FS")
	if err := os.Rename(one, flagged); err != nil {
		t.Fatal(err)
	}
	sync()
	if f := imapFlags("sync1"); !strings.Contains(f, `\Flagged`) || !strings.Contains(f, `\Seen`) {
		t.Errorf("after flagging locally, the server's flags of sync1: %q, want \\Flagged \\Seen", f)
	}
	var named bool
	for _, f := range a.serverFiles("alice", "") {
		named = named || strings.HasSuffix(f, ":2,FS")
	}
	if !named {
		t.Errorf("no server file is named ...:2,FS: %q", a.serverFiles("alice", ""))
	}

	// A message moved on the server moves locally.
	if out := python(t, "imap_one.py", strconv.Itoa(a.imap), a.cert, "alice@"+domain, password("alice"), "move", "sync2", "Archive"); !strings.Contains(out, "OK") {
		t.Fatalf("MOVE sync2 to Archive: %s", out)
	}
	sync()
	if f := localFile("INBOX", "sync2"); f != "" {
		t.Errorf("sync2, moved to Archive on the server, is still in the local INBOX: %s", f)
	}
	if f := localFile("Archive", "sync2"); f == "" {
		t.Errorf("sync2, moved to Archive on the server, is not in the local Archive")
	}

	// A message deleted locally is expunged on the server.
	if err := os.Remove(flagged); err != nil {
		t.Fatal(err)
	}
	sync()
	if f := imapFlags("sync1"); f != "none\n" {
		t.Errorf("sync1, deleted locally, is still on the server: flags %q", f)
	}
	if files := a.serverFiles("alice", ""); len(files) != 0 {
		t.Errorf("the server's INBOX still holds %q", files)
	}
	if files := a.serverFiles("alice", "Archive"); len(files) != 1 {
		t.Errorf("the server's Archive holds %q, want sync2 only", files)
	}
	a.stop()
}

// TestMutt: mutt reads alice's INBOX over IMAP with STARTTLS (the
// server's certificate trusted through certificate_file, host name
// checked) in batch mode: the keys pushed with -e tag every message and
// pipe them to a file, then quit. mutt wants a terminal; script(1) gives
// it one.
func TestMutt(t *testing.T) {
	t.Parallel()
	mutt := needTool(t, "mutt")
	scriptTool := needTool(t, "script")
	a := startAccess(t, "")
	a.deliver("alice", 2, "mutt1", "mutt2")
	home := t.TempDir()
	piped := filepath.Join(home, "piped")
	rc := filepath.Join(home, "muttrc")
	if err := os.WriteFile(rc, []byte(fmt.Sprintf(`set folder="imap://localhost:%d/"
set spoolfile="+INBOX"
set imap_user="alice@%s"
set imap_pass="%s"
set ssl_starttls=yes
set ssl_force_tls=yes
set certificate_file="%s"
set header_cache=""
set move=no
set record=""
set wait_key=no
set pipe_split=yes
set pipe_decode=no
`, a.imap, domain, password("alice"), a.cert)), 0o600); err != nil {
		t.Fatal(err)
	}
	keys := `push "<tag-pattern>~A<enter><tag-prefix><pipe-message>cat >> ` + piped + `<enter><quit>"`
	// A hang guard: mutt waiting at a prompt is killed.
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	cmd := exec.CommandContext(ctx, scriptTool, "-qec", mutt+" -n -F "+rc+" -e '"+keys+"'", "/dev/null")
	cmd.Env = append(os.Environ(), "HOME="+home, "TERM=xterm", "MAIL=")
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	b, _ := os.ReadFile(piped)
	if err != nil || !strings.Contains(string(b), "Subject: mutt1") || !strings.Contains(string(b), "Subject: mutt2") {
		t.Fatalf("mutt: %v; piped:\n%s\nterminal:\n%q", err, b, out)
	}
	a.waitLog("imapd", "Login: user=<alice@"+domain+">", "TLS")
	a.stop()
}
