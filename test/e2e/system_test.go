package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailhorn/internal/queue"
)

// domain is the virtual mailbox domain every test system serves.
const domain = "example.test"

// patience bounds every "eventually" condition: generous, because the
// machine may be slow and shared; it is a hang guard, not a measurement.
const patience = 60 * time.Second

// options shape one test system.
type options struct {
	users []string // mailboxes user@example.test; default alice and bob
	// mainCF is appended to the generated main.cf (later entries win).
	mainCF string
}

// system is one mail system under test: a directory holding etc/ (main.cf,
// master.cf, tables), spool/ (the queue), mail/ (Maildirs), data/ and
// log/maillog, and at most one running `mailhorn start-fg` child.
type system struct {
	t    *testing.T
	dir  string
	etc  string
	port int

	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
	stderr *os.File

	cleanupSet bool
	// root: as root, mailhorn commands (start-fg included) run as root,
	// not as nobody, so that the privileged parent and mail_owner child
	// run for real (root_test.go).
	root bool
}

// newSystem writes a configuration like the demo's into a fresh directory.
// It does not start the mail system.
func newSystem(t *testing.T, o options) *system {
	t.Helper()
	if o.users == nil {
		o.users = []string{"alice", "bob"}
	}
	// Not t.TempDir(): its 0700 parents would lock out the unprivileged
	// mail system when the tests run as root.
	dir, err := os.MkdirTemp("", "mailhorn-e2e-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// MAILHORN_E2E_KEEP=1 keeps a failed test's directory for a look.
		if t.Failed() && os.Getenv("MAILHORN_E2E_KEEP") != "" {
			t.Logf("kept %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	s := &system{t: t, dir: dir, etc: filepath.Join(dir, "etc")}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := searchable(dir); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"etc", "spool", "mail", "data", "log"} {
		p := filepath.Join(dir, d)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if d != "etc" {
			if err := os.Chown(p, runAs.uid, runAs.gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	mainCF := fmt.Sprintf(`# mailhorn e2e test system
myhostname = mail.%[1]s
mydomain = %[1]s
myorigin = $mydomain
mydestination =
inet_interfaces = loopback-only
mynetworks = 127.0.0.0/8
queue_directory = %[2]s/spool
data_directory = %[2]s/data
maillog_file = %[2]s/log/maillog
alias_maps =
alias_database =
virtual_mailbox_domains = %[1]s
virtual_mailbox_base = %[2]s/mail
virtual_mailbox_maps = hash:%[2]s/etc/vmailbox
virtual_uid_maps = static:%[3]d
virtual_gid_maps = static:%[4]d
virtual_minimum_uid = %[3]d
%[5]s
`, domain, dir, runAs.uid, runAs.gid, o.mainCF)
	s.writeFile("etc/main.cf", mainCF)
	s.setUsers(o.users...)
	s.setPort(freePort(t))
	return s
}

// searchable checks that the unprivileged mail system can reach dir.
func searchable(dir string) error {
	if !runAs.root {
		return nil
	}
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%s (mode %v) is not searchable by nobody, who runs the mail system: set TMPDIR to a directory that is, e.g. /tmp", d, st.Mode().Perm())
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

func (s *system) path(rel string) string { return filepath.Join(s.dir, rel) }

func (s *system) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *system) writeFile(rel, text string) {
	s.t.Helper()
	if err := os.WriteFile(s.path(rel), []byte(text), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// setUsers writes virtual_mailbox_maps and builds its index with mailhorn
// map, as an administrator would.
func (s *system) setUsers(users ...string) {
	s.t.Helper()
	var b strings.Builder
	for _, u := range users {
		fmt.Fprintf(&b, "%s@%s %s/\n", u, domain, u)
	}
	s.writeFile("etc/vmailbox", b.String())
	if out, err := exec.Command(mailhornBin, "map", "-c", s.etc, "hash:"+s.path("etc/vmailbox")).CombinedOutput(); err != nil {
		s.t.Fatalf("mailhorn map: %v\n%s", err, out)
	}
}

// setPort writes master.cf: an SMTP listener on the port, and the default
// master.cf's other (unix) services.
func (s *system) setPort(port int) {
	s.t.Helper()
	s.port = port
	s.writeMasterCF()
}

// writeMasterCF writes master.cf without the services named in omit.
func (s *system) writeMasterCF(omit ...string) {
	s.t.Helper()
	def, err := exec.Command(mailhornBin, "conf", "-c", s.path("no-such-dir"), "-M").Output()
	if err != nil {
		s.t.Fatalf("mailhorn conf -M: %v", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "127.0.0.1:%d inet n - n - - smtpd\n", s.port)
	for _, line := range strings.SplitAfter(string(def), "\n") {
		if f := strings.Fields(line); len(f) > 1 && (f[1] == "inet" || slices.Contains(omit, f[0])) {
			continue
		}
		b.WriteString(line)
	}
	s.writeFile("etc/master.cf", b.String())
}

// freePort finds a loopback port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// command prepares a mailhorn command run as the mail system's account.
func (s *system) command(args ...string) *exec.Cmd {
	cmd := exec.Command(mailhornBin, args...)
	cmd.Dir = s.dir
	if runAs.root && !s.root {
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: uint32(runAs.uid), Gid: uint32(runAs.gid), Groups: []uint32{}},
		}
	}
	return cmd
}

// start runs `mailhorn start-fg` and returns once the SMTP port accepts
// connections and the pid file exists. A port taken in the meantime by
// someone else is replaced by another.
func (s *system) start() {
	s.t.Helper()
	if s.cmd != nil {
		s.t.Fatal("start: already running")
	}
	for attempt := 0; ; attempt++ {
		err := s.tryStart()
		if err == nil {
			return
		}
		if attempt < 3 && strings.Contains(err.Error(), "address already in use") {
			s.setPort(freePort(s.t))
			continue
		}
		s.t.Fatalf("start the mail system: %v", err)
	}
}

func (s *system) tryStart() error {
	stderr, err := os.OpenFile(s.path("start-fg.stderr"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	before := s.stderrSize()
	cmd := s.command("start-fg", "-c", s.etc)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		stderr.Close()
		return err
	}
	s.cmd, s.stderr, s.exited = cmd, stderr, make(chan struct{})
	waitErr := make(chan error, 1)
	go func() {
		waitErr <- cmd.Wait()
		close(s.exited)
	}()
	if !s.cleanupSet {
		s.cleanupSet = true
		s.t.Cleanup(s.cleanup)
	}
	pidFile := s.path("spool/pid/master.pid")
	for deadline := time.Now().Add(patience); ; {
		select {
		case err := <-waitErr:
			s.cmd = nil
			s.stderr.Close()
			return fmt.Errorf("mailhorn start-fg exited (%v) before accepting connections:\n%s", err, s.stderrSince(before))
		default:
		}
		if c, err := net.Dial("tcp", s.addr()); err == nil {
			c.Close()
			if _, err := os.Stat(pidFile); err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("not accepting on %s with a pid file after %v:\n%s", s.addr(), patience, s.stderrSince(before))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *system) stderrSize() int64 {
	st, err := os.Stat(s.path("start-fg.stderr"))
	if err != nil {
		return 0
	}
	return st.Size()
}

func (s *system) stderrSince(off int64) string {
	b, _ := os.ReadFile(s.path("start-fg.stderr"))
	if off <= int64(len(b)) {
		b = b[off:]
	}
	return string(b)
}

// stop ends the mail system with SIGTERM (a graceful stop) and waits.
func (s *system) stop() {
	s.t.Helper()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(patience):
		s.kill()
		s.t.Fatalf("the mail system did not stop within %v of SIGTERM", patience)
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		s.t.Errorf("mailhorn start-fg exited with %d after SIGTERM:\n%s", code, s.stderrSince(0))
	}
	s.cmd = nil
	s.stderr.Close()
}

// kill ends the mail system with SIGKILL: a crash.
func (s *system) kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
	s.stderr.Close()
}

func (s *system) cleanup() {
	if s.t.Failed() {
		s.t.Logf("mail log:\n%s", s.maillog())
		s.t.Logf("start-fg stderr:\n%s", s.stderrSince(0))
	}
	s.kill()
}

// maillog is the mail log so far.
func (s *system) maillog() string {
	b, err := os.ReadFile(s.path("log/maillog"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.t.Fatal(err)
	}
	return string(b)
}

// logLines returns the mail log lines that contain every one of words.
func (s *system) logLines(words ...string) []string {
	var out []string
	for _, l := range strings.Split(s.maillog(), "\n") {
		ok := l != ""
		for _, w := range words {
			ok = ok && strings.Contains(l, w)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// message is one file in a Maildir.
type message struct {
	user  string
	path  string
	msgID string
	raw   string
}

// messages reads every message delivered so far (new/ and cur/ of each
// mailbox; tmp/ holds deliveries in progress).
func (s *system) messages() []message {
	s.t.Helper()
	var out []message
	users, err := os.ReadDir(s.path("mail"))
	if err != nil {
		s.t.Fatal(err)
	}
	for _, u := range users {
		for _, sub := range []string{"new", "cur"} {
			d := filepath.Join(s.path("mail"), u.Name(), sub)
			files, err := os.ReadDir(d)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				s.t.Fatal(err)
			}
			for _, f := range files {
				p := filepath.Join(d, f.Name())
				b, err := os.ReadFile(p)
				if err != nil {
					s.t.Fatal(err)
				}
				m := message{user: u.Name(), path: p, raw: string(b)}
				if pm, err := mail.ReadMessage(bytes.NewReader(b)); err == nil {
					m.msgID = pm.Header.Get("Message-Id")
				}
				out = append(out, m)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// queued lists the files in the queue (every queue directory but pid/).
func (s *system) queued() []string {
	s.t.Helper()
	var out []string
	root := s.path("spool")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p == filepath.Join(root, "pid") {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

// incomplete tells the queue files (as queued lists them) whose writer
// died before finishing them: a crash during DATA leaves them in incoming/.
// They hold no accepted message (the client got no 250).
func (s *system) incomplete(files []string) (dead, live []string) {
	s.t.Helper()
	for _, rel := range files {
		f, err := os.Open(filepath.Join(s.path("spool"), rel))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			s.t.Fatal(err)
		}
		st, err := f.Stat()
		if err == nil {
			_, err = queue.Decode(f, st.Size())
		}
		f.Close()
		if strings.HasPrefix(rel, "incoming/") && errors.Is(err, queue.ErrIncomplete) {
			dead = append(dead, rel)
		} else {
			live = append(live, rel)
		}
	}
	return dead, live
}

// eventually polls cond until it holds, or fails the test after patience
// with what describe says about the state.
func (s *system) eventually(what string, cond func() bool, describe func() string) {
	s.t.Helper()
	for deadline := time.Now().Add(patience); !cond(); {
		if time.Now().After(deadline) {
			s.t.Fatalf("after %v, still not %s: %s", patience, what, describe())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// settled is like eventually for conditions on the queue and the
// Maildirs: it must hold on two polls in a row, since a directory walk can
// miss a file that a rename moves behind it.
func (s *system) settled(what string, cond func() bool, describe func() string) {
	s.t.Helper()
	held := false
	s.eventually(what, func() bool {
		if !cond() {
			held = false
			return false
		}
		if held {
			return true
		}
		held = true
		return false
	}, describe)
}

// waitDelivered waits until n messages are in the Maildirs and the queue
// is empty: once it holds, nothing more is on its way.
func (s *system) waitDelivered(n int) []message {
	s.t.Helper()
	var msgs []message
	var q []string
	s.settled(fmt.Sprintf("%d messages delivered and the queue empty", n), func() bool {
		msgs, q = s.messages(), s.queued()
		return len(msgs) >= n && len(q) == 0
	}, func() string {
		return fmt.Sprintf("%d messages in the Maildirs, queue holds %d files %.20q", len(msgs), len(q), q)
	})
	if len(msgs) != n {
		s.t.Fatalf("%d messages in the Maildirs, want exactly %d", len(msgs), n)
	}
	// Without a crash, no delivery leaves a file behind in tmp/.
	if left, _ := filepath.Glob(s.path("mail/*/tmp/*")); len(left) > 0 {
		s.t.Errorf("files left in Maildir tmp/: %q", left)
	}
	return msgs
}

// waitLog waits until a mail log line holds every one of words.
func (s *system) waitLog(words ...string) []string {
	s.t.Helper()
	var lines []string
	s.eventually(fmt.Sprintf("logged %q", words), func() bool {
		lines = s.logLines(words...)
		return len(lines) > 0
	}, func() string { return "mail log:\n" + s.maillog() })
	return lines
}
