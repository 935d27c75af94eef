package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// LMTP interop (issue 5): real Postfix as the client of mailhorn's LMTP
// server (master.cf command lmtpd, docs/lmtp.md), and mailhorn's lmtp
// client delivering into Dovecot's LMTP server. Both need root: Postfix's
// and Dovecot's masters start as root and drop to their own accounts.

// sbinTool finds a program that lives in /usr/sbin (not always in PATH).
func sbinTool(t *testing.T, name string) string {
	t.Helper()
	if p := "/usr/sbin/" + name; fileExists(p) {
		return p
	}
	return needTool(t, name)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// runOK runs a command and fails the test with its output on error.
func runOK(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// waitFileHas waits until the file at path holds every one of words and
// returns its text.
func waitFileHas(t *testing.T, path string, words ...string) string {
	t.Helper()
	for deadline := time.Now().Add(patience); ; time.Sleep(50 * time.Millisecond) {
		b, _ := os.ReadFile(path)
		ok := true
		for _, w := range words {
			if !strings.Contains(string(b), w) {
				ok = false
			}
		}
		if ok {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not hold %q after %v:\n%s", path, words, patience, b)
		}
	}
}

// TestLMTPServerFromPostfix: a private Postfix instance relays mail for
// example.test with virtual_transport = lmtp:inet:... into mailhorn's LMTP
// server, and one recipient (transport_maps) over lmtp:unix: to its UNIX
// socket. Both land in mailhorn's Maildirs; a recipient mailhorn does not
// have is refused at RCPT (550 5.1.1), so Postfix bounces it.
func TestLMTPServerFromPostfix(t *testing.T) {
	needRoot(t)
	// Find Postfix before starting anything.
	sbinTool(t, "postfix")
	sbinTool(t, "postmap")

	m := newSystem(t, options{})
	lport := freePort(t)
	sock := m.path("spool/public/lmtpd")
	master, err := os.ReadFile(m.path("etc/master.cf"))
	if err != nil {
		t.Fatal(err)
	}
	m.writeFile("etc/master.cf", string(master)+fmt.Sprintf(
		"127.0.0.1:%d inet n - n - - lmtpd\nlmtpd unix n - n - - lmtpd\n", lport))
	m.start()
	if st, err := os.Stat(sock); err != nil || st.Mode()&os.ModeSocket == 0 {
		t.Fatalf("lmtpd unix service: no socket at %s: %v", sock, err)
	}

	// The Postfix instance: smtpd on a loopback port, example.test a
	// virtual mailbox domain whose mail leaves by LMTP.
	p := newPostfix(t, "postfix")
	pport := freePort(t)
	p.start(pfConfig{
		myhostname: "postfix.client.test",
		mainCF: fmt.Sprintf(`virtual_mailbox_domains = %[2]s
virtual_mailbox_maps = hash:%[1]s/conf/vmailbox
virtual_transport = lmtp:inet:127.0.0.1:%[3]d
transport_maps = hash:%[1]s/conf/transport
bounce_notice_recipient = postmaster`, p.dir, domain, lport),
		transports: "lmtp       unix  - - n -     - lmtp\n",
		listeners:  []pfListener{{port: pport}},
		maps: map[string]string{
			// carol is Postfix's but not mailhorn's: mailhorn must refuse her.
			"vmailbox":  fmt.Sprintf("alice@%[1]s x\nbob@%[1]s x\ncarol@%[1]s x\n", domain),
			"transport": fmt.Sprintf("bob@%s lmtp:unix:%s\n", domain, sock),
		},
	})

	c := dial(t, "127.0.0.1:"+strconv.Itoa(pport))
	c.sendMail("sender@client.test", []string{"alice@" + domain, "bob@" + domain, "carol@" + domain},
		testMessage("sender@client.test", "alice@"+domain, "<lmtp-pf-1@e2e.test>", "through Postfix"))
	c.cmd("QUIT", 221, "")

	msgs := m.waitDelivered(2)
	got := map[string]bool{}
	for _, msg := range msgs {
		got[msg.user] = true
		if msg.msgID != "<lmtp-pf-1@e2e.test>" || !strings.HasPrefix(msg.raw, "Return-Path: <sender@client.test>\n") {
			t.Errorf("%s's copy: want Message-ID <lmtp-pf-1@e2e.test> and the envelope sender kept:\n%s", msg.user, msg.raw)
		}
	}
	if !got["alice"] || !got["bob"] {
		t.Errorf("delivered to %v, want alice and bob", got)
	}
	m.waitLog("lmtpd", "reject: RCPT", "550 5.1.1 <carol@"+domain+">", "proto=LMTP")
	m.waitLog("lmtpd", "client=localhost[127.0.0.1]") // over TCP
	m.waitLog("lmtpd", "client=unknown[unknown]")     // over the UNIX socket
	for _, msg := range msgs {
		if !strings.Contains(msg.raw, "with LMTP") {
			t.Errorf("%s's copy: no Received ... with LMTP:\n%s", msg.user, msg.raw)
		}
	}
	pflog := p.maillog()
	waitFileHas(t, pflog, "to=<alice@"+domain+">", "relay=127.0.0.1[127.0.0.1]:"+strconv.Itoa(lport), "status=sent")
	waitFileHas(t, pflog, "to=<bob@"+domain+">", "lmtpd", "status=sent")
	waitFileHas(t, pflog, "to=<carol@"+domain+">", "status=bounced", "550 5.1.1", "User unknown in virtual mailbox table")

	// No relaying through LMTP, even from mynetworks; HELO is not LMTP.
	l := dial(t, "127.0.0.1:"+strconv.Itoa(lport))
	l.cmd("HELO x.test", 502, "")
	l.cmd("LHLO x.test", 250, "")
	l.cmd("MAIL FROM:<a@x.test>", 250, "")
	l.cmd("RCPT TO:<someone@elsewhere.test>", 554, "Relay access denied")
	l.cmd("QUIT", 221, "")
	m.stop()
}

// stopDaemon runs stop (postfix stop, dovecot stop) and makes sure the
// master whose pid file is pidFile is gone, killing it after patience.
func stopDaemon(stop *exec.Cmd, pidFile string) {
	b, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	// The stop command itself may hang (a Postfix whose postlogd died
	// blocks on its log): it gets a deadline too.
	stopped := make(chan struct{})
	if err := stop.Start(); err == nil {
		go func() { stop.Wait(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(patience / 2):
			stop.Process.Kill()
		}
	}
	if pid <= 0 {
		return
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return
	}
	for deadline := time.Now().Add(patience / 2); p.Signal(syscall.Signal(0)) == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			// The daemon leads its own process group: take its children
			// down with it.
			syscall.Kill(-pid, syscall.SIGKILL)
			p.Kill()
			return
		}
	}
}

// TestLMTPClientIntoDovecot: mailhorn's lmtp client delivers mail for
// dove.test (transport_maps: lmtp:inet:127.0.0.1:PORT) into a private
// Dovecot's LMTP server, which stores it in its own Maildir; a recipient
// Dovecot does not know bounces with Dovecot's reply.
func TestLMTPClientIntoDovecot(t *testing.T) {
	needRoot(t)
	dovecot := sbinTool(t, "dovecot")
	if !fileExists("/usr/lib/dovecot/lmtp") {
		if os.Getenv("CI") != "" {
			t.Fatal("dovecot-lmtpd is required in CI (scripts/test-deps.sh installs it)")
		}
		t.Skip("dovecot-lmtpd not installed (/usr/lib/dovecot/lmtp missing)")
	}
	dir, err := os.MkdirTemp("", "mailhorn-e2e-dovecot-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	for _, d := range []string{"run", "state", "mail"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The mail is stored as nobody.
	if err := os.Chown(filepath.Join(dir, "mail"), runAs.uid, runAs.gid); err != nil {
		t.Fatal(err)
	}
	nobody := lookupUID(t, "nobody")
	dport := freePort(t)
	if err := os.WriteFile(filepath.Join(dir, "passwd"),
		[]byte(fmt.Sprintf("dave@dove.test::%d:%d::%s/mail/dave::\n", nobody, runAs.gid, dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	cf := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(cf, []byte(fmt.Sprintf(`# private Dovecot for mailhorn's e2e test
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
instance_name = mailhorn-e2e
protocols = lmtp
listen = 127.0.0.1
ssl = no
first_valid_uid = 1
mail_location = maildir:%[1]s/mail/%%n
passdb {
  driver = passwd-file
  args = %[1]s/passwd
}
userdb {
  driver = passwd-file
  args = %[1]s/passwd
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = %[2]d
  }
}
`, dir, dport)), 0o644); err != nil {
		t.Fatal(err)
	}
	startDovecot(t, dovecot, dir, cf)
	waitFileHas(t, filepath.Join(dir, "dovecot.log"), "starting up")

	m := newSystem(t, options{mainCF: fmt.Sprintf("transport_maps = inline:{dove.test=lmtp:inet:127.0.0.1:%d}\n", dport)})
	m.start()
	c := dial(t, m.addr())
	id := c.sendMail("alice@"+domain, []string{"dave@dove.test", "nobody-here@dove.test"},
		testMessage("alice@"+domain, "dave@dove.test", "<lmtp-dove-1@e2e.test>", "into Dovecot"))
	c.cmd("QUIT", 221, "")

	m.waitLog(id+": to=<dave@dove.test>", "relay=127.0.0.1[127.0.0.1]:"+strconv.Itoa(dport), "status=sent")
	if l := m.waitLog(id+": to=<nobody-here@dove.test>", "status=bounced"); !strings.Contains(l[0], "550 5.1.1") {
		t.Errorf("bounce without Dovecot's reply: %s", l[0])
	}
	var files []string
	for deadline := time.Now().Add(patience); len(files) == 0; time.Sleep(50 * time.Millisecond) {
		files, _ = filepath.Glob(filepath.Join(dir, "mail/dave/new/*"))
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Fatalf("nothing in Dovecot's Maildir after %v; dovecot.log:\n%s", patience, log)
		}
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "Message-ID: <lmtp-dove-1@e2e.test>") || !strings.Contains(string(b), "Return-Path: <alice@"+domain+">") {
		t.Errorf("Dovecot stored:\n%s", b)
	}
	m.stop()
}

// startDovecot runs a private Dovecot from config file cf (with base_dir
// dir/run) and stops it when the test ends.
func startDovecot(t *testing.T, dovecot, dir, cf string) {
	t.Helper()
	// Dovecot's master daemonizes and keeps its stdout: hand it a file,
	// not a pipe CombinedOutput would wait on forever.
	out, err := os.Create(filepath.Join(dir, "dovecot.stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	start := exec.Command(dovecot, "-c", cf)
	start.Stdout, start.Stderr = out, out
	if err := start.Run(); err != nil {
		b, _ := os.ReadFile(out.Name())
		t.Fatalf("dovecot -c %s: %v\n%s", cf, err, b)
	}
	t.Cleanup(func() { stopDaemon(exec.Command(dovecot, "-c", cf, "stop"), filepath.Join(dir, "run/master.pid")) })
}
