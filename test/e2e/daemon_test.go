package e2e

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"mailhorn/internal/master"
)

// mailhorn runs a mailhorn command as the mail system's account and returns
// its exit code and its output (stdout and stderr together).
func (s *system) mailhorn(args ...string) (int, string) {
	s.t.Helper()
	cmd := s.command(args...)
	out, err := cmd.CombinedOutput()
	if err != nil && cmd.ProcessState == nil {
		s.t.Fatalf("mailhorn %s: %v", strings.Join(args, " "), err)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// TestDaemonCommands: postfix(1)'s start / status / reload / stop, and
// check, on a real configuration.
func TestDaemonCommands(t *testing.T) {
	t.Parallel()
	s := newSystem(t, options{})
	pidFile := master.PIDPath(s.path("spool"))
	t.Cleanup(func() {
		// A daemon that "mailhorn stop" failed to end.
		if pid, _ := master.Running(pidFile); pid != 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})

	if code, out := s.mailhorn("check", "-c", s.etc); code != 0 || out != "" {
		t.Fatalf("check on a good configuration: exit %d:\n%s", code, out)
	}
	if code, out := s.mailhorn("status", "-c", s.etc); code != 1 || !strings.Contains(out, "not running") {
		t.Errorf("status before start: exit %d: %s", code, out)
	}

	code, out := s.mailhorn("start", "-c", s.etc)
	if code != 0 {
		t.Fatalf("start: exit %d:\n%s", code, out)
	}
	// start returns once the system listens: no waiting here.
	c := dial(t, s.addr())
	pid, err := master.ReadPID(pidFile)
	if err != nil {
		t.Fatalf("after start: %v", err)
	}
	if syscall.Kill(pid, 0) != nil {
		t.Fatalf("pid %d from the pid file is not running", pid)
	}
	code, out = s.mailhorn("status", "-c", s.etc)
	if want := "the mail system is running: PID: " + strconv.Itoa(pid); code != 0 || !strings.Contains(out, want) {
		t.Errorf("status: exit %d: %q, want 0 and %q", code, out, want)
	}
	if code, out := s.mailhorn("start", "-c", s.etc); code != 1 || !strings.Contains(out, "already running") {
		t.Errorf("second start: exit %d: %s", code, out)
	}

	// A session opened before a reload goes on after it, on the same
	// connection; new sessions see the new tables.
	c.cmd("EHLO before.example", 250, "")
	s.setUsers("alice", "bob", "carol")
	if code, out := s.mailhorn("reload", "-c", s.etc); code != 0 {
		t.Fatalf("reload: exit %d:\n%s", code, out)
	}
	s.waitLog("reload -- version ")
	c.sendMail("dave@example.net", []string{"alice@" + domain}, testMessage("dave@example.net", "alice@"+domain, "<reload-1@e2e.test>", "across a reload"))
	c2 := dial(t, s.addr())
	c2.cmd("EHLO after.example", 250, "")
	c2.sendMail("dave@example.net", []string{"carol@" + domain}, testMessage("dave@example.net", "carol@"+domain, "<reload-2@e2e.test>", "new mailbox"))

	// A broken main.cf at reload: the running configuration stays.
	good, err := os.ReadFile(s.path("etc/main.cf"))
	if err != nil {
		t.Fatal(err)
	}
	s.writeFile("etc/main.cf", string(good)+"smtpd_timeout = banana\n")
	// mailhorn reload reads main.cf first and refuses (postfix reload
	// would signal the master regardless).
	if code, out := s.mailhorn("reload", "-c", s.etc); code != 1 || !strings.Contains(out, "main.cf, line ") {
		t.Errorf("reload with a bad main.cf: exit %d: %s", code, out)
	}
	// The master itself, sent SIGHUP, logs the error and keeps going.
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.waitLog("reload failed; keeping the running configuration")
	c.sendMail("dave@example.net", []string{"bob@" + domain}, testMessage("dave@example.net", "bob@"+domain, "<reload-3@e2e.test>", "after a failed reload"))
	c.cmd("QUIT", 221, "")
	c2.cmd("QUIT", 221, "")
	s.writeFile("etc/main.cf", string(good))
	s.waitDelivered(3)

	if code, out := s.mailhorn("stop", "-c", s.etc); code != 0 {
		t.Fatalf("stop: exit %d:\n%s", code, out)
	}
	if code, out := s.mailhorn("status", "-c", s.etc); code != 1 || !strings.Contains(out, "not running") {
		t.Errorf("status after stop: exit %d: %s", code, out)
	}
	// stop returns when the pid file is released; the process may take a
	// moment more to exit (and, orphaned, may stay a zombie if nothing
	// reaps it).
	s.eventually(fmt.Sprintf("pid %d gone after stop", pid), func() bool {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return syscall.Kill(pid, 0) != nil
		}
		_, rest, _ := strings.Cut(string(st), ") ")
		return strings.HasPrefix(rest, "Z")
	}, func() string { return "" })
	if conn, err := net.Dial("tcp", s.addr()); err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections after stop", s.addr())
	}
	if code, out := s.mailhorn("stop", "-c", s.etc); code != 1 || !strings.Contains(out, "not running") {
		t.Errorf("stop when stopped: exit %d: %s", code, out)
	}
}

// TestCheckBadConfig: check names the file and line of a bad value.
func TestCheckBadConfig(t *testing.T) {
	t.Parallel()
	s := newSystem(t, options{})
	good, err := os.ReadFile(s.path("etc/main.cf"))
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Count(string(good), "\n") + 1
	for _, tc := range []struct{ setting, want string }{
		{"smtpd_timeout = banana", "bad time configuration: smtpd_timeout = banana"},
		{"message_size_limit = big", "bad numerical configuration: message_size_limit = big"},
		{"smtpd_forbid_bare_newline = maybe", "smtpd_forbid_bare_newline = maybe"},
	} {
		s.writeFile("etc/main.cf", string(good)+tc.setting+"\n")
		code, out := s.mailhorn("check", "-c", s.etc)
		where := fmt.Sprintf("%s, line %d: ", s.path("etc/main.cf"), line)
		if code != 1 || !strings.Contains(out, "mailhorn: fatal: ") || !strings.Contains(out, tc.want) {
			t.Errorf("check with %q: exit %d:\n%s\nwant exit 1 and %q", tc.setting, code, out, tc.want)
		}
		if !strings.Contains(out, where) {
			t.Errorf("check with %q: no %q in:\n%s", tc.setting, where, out)
		}
	}
	// A table that cannot be opened.
	s.writeFile("etc/main.cf", string(good)+"virtual_mailbox_maps = hash:/nonexistent/vmailbox\n")
	if code, out := s.mailhorn("check", "-c", s.etc); code != 1 || !strings.Contains(out, "fatal: ") || !strings.Contains(out, "/nonexistent/vmailbox") {
		t.Errorf("check with a missing table: exit %d:\n%s", code, out)
	}
}
