package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailhorn/internal/queue"
)

func where(q *queue.Queue, id string) string {
	n, _ := q.Locate(id)
	return n
}

// TestSuperStopped: postsuper on the files of a stopped system.
func TestSuperStopped(t *testing.T) {
	conf, q := queueSetup(t)
	now := time.Now()
	msg := func() string {
		return queueMsgAt(t, q, now, "a@example.org", "Subject: x\n\ny\n", queue.Recipient{Address: "b@example.net"})
	}
	a, b, c, d := msg(), msg(), msg(), msg()
	steps := []struct {
		args       []string
		stdin      string
		wantErr    string
		wantQueues map[string]string
	}{
		{[]string{"-h", a, "-h", b}, "", "postsuper: " + a + ": placed on hold\npostsuper: " + b + ": placed on hold\npostsuper: Placed on hold: 2 messages\n",
			map[string]string{a: "hold", b: "hold", c: "incoming"}},
		{[]string{"-H", a}, "", "postsuper: " + a + ": released from hold\npostsuper: Released from hold: 1 message\n",
			map[string]string{a: "incoming", b: "hold"}},
		{[]string{"-r", b}, "", "postsuper: " + b + ": requeued\npostsuper: Requeued: 1 message\n",
			map[string]string{b: "incoming"}},
		{[]string{"-d", "-"}, a + "\nnot-an-id\n" + c + "\n", "postsuper: warning: invalid mail queue id: not-an-id\n",
			map[string]string{a: "", c: ""}},
		{[]string{"-h", "ALL"}, "", "postsuper: Placed on hold: 2 messages\n", map[string]string{b: "hold", d: "hold"}},
		{[]string{"-d", "ALL", "deferred"}, "", "", map[string]string{b: "hold", d: "hold"}},
		{[]string{"-d", "ALL", "hold"}, "", "postsuper: Deleted: 2 messages\n", map[string]string{b: "", d: ""}},
		{[]string{"-d", b}, "", "", nil},
	}
	for _, s := range steps {
		_, errOut, code := runCommand(t, runSuper, s.stdin, append([]string{"-c", conf}, s.args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", s.args, code, errOut)
		}
		if !strings.Contains(errOut, s.wantErr) || s.wantErr == "" && errOut != "" {
			t.Errorf("%v: stderr\n%s\nwant\n%s", s.args, errOut, s.wantErr)
		}
		for id, want := range s.wantQueues {
			if got := where(q, id); got != want {
				t.Errorf("%v: %s in %q, want %q", s.args, id, got, want)
			}
		}
	}
	log, _ := os.ReadFile(filepath.Join(filepath.Dir(conf), "maillog"))
	if !strings.Contains(string(log), "postsuper") || !strings.Contains(string(log), a+": removed") {
		t.Errorf("mail log:\n%s", log)
	}
	if _, errOut, code := runCommand(t, runSuper, "", "-c", conf, "-d", "ALL", "maildrop"); code == 0 || !strings.Contains(errOut, "invalid directory name") {
		t.Errorf("bad queue name: %d %q", code, errOut)
	}
}

// TestSuperRunning: the same through private/control to a live queue
// manager, which must hear of every change.
func TestSuperRunning(t *testing.T) {
	conf, q := queueSetup(t)
	l := startLive(t, q)
	a := queueMsgAt(t, q, time.Now(), "a@example.org", "Subject: x\n\ny\n", queue.Recipient{Address: "b@example.net"})
	b := queueMsgAt(t, q, time.Now(), "a@example.org", "Subject: x\n\ny\n", queue.Recipient{Address: "b@example.net"})
	l.m.Queued(a)
	l.m.Queued(b)
	l.idle(t)
	run := func(args ...string) string {
		t.Helper()
		_, errOut, code := runCommand(t, runSuper, "", append([]string{"-c", conf}, args...)...)
		if code != 0 {
			t.Fatalf("%v: %d %s", args, code, errOut)
		}
		l.idle(t)
		return errOut
	}
	if out := run("-h", a); !strings.Contains(out, a+": placed on hold") || where(q, a) != "hold" {
		t.Fatalf("hold: %q, in %q", out, where(q, a))
	}
	run("-H", a) // released: the manager tries it at once
	if where(q, a) != "deferred" || l.tries(a) != 2 {
		t.Errorf("released: in %q after %d tries", where(q, a), l.tries(a))
	}
	run("-r", "ALL")
	if l.tries(a) != 3 || l.tries(b) != 2 {
		t.Errorf("requeue ALL: %d and %d tries", l.tries(a), l.tries(b))
	}
	if out := run("-d", b); !strings.Contains(out, "Deleted: 1 message") || where(q, b) != "" {
		t.Errorf("delete: %q, in %q", out, where(q, b))
	}
	// A misplaced file put right by -s is handed to the running manager.
	c := queueMsgAt(t, q, time.Now(), "a@example.org", "Subject: x\n\ny\n", queue.Recipient{Address: "b@example.net"})
	wrong := filepath.Join(q.Dir(), "incoming", c)
	if err := os.Rename(q.Path(queue.Incoming, c), wrong); err != nil {
		t.Fatal(err)
	}
	run("-s")
	if where(q, c) == "" || l.tries(c) != 1 {
		t.Errorf("repaired file: in %q after %d tries", where(q, c), l.tries(c))
	}
}

func TestSuperStructureAndPurge(t *testing.T) {
	conf, q := queueSetup(t)
	a := queueMsg(t, q, "a@example.org", "Subject: x\n\ny\n", queue.Recipient{Address: "b@example.net"})
	old := time.Now().Add(-48 * time.Hour)
	os.Chtimes(q.Path(queue.Incoming, a), old, old)
	// A misplaced complete file in deferred/, and an old incomplete one.
	b := queueMsg(t, q, "a@example.org", "Subject: x\n\ny\n", queue.Recipient{Address: "b@example.net"})
	misplaced := filepath.Join(q.Dir(), "deferred", b)
	if err := os.Rename(q.Path(queue.Incoming, b), misplaced); err != nil {
		t.Fatal(err)
	}
	os.Chmod(misplaced, 0o644)
	dead := q.Path(queue.Incoming, "0123456789ABD001")
	os.WriteFile(dead, []byte("MHQ1"), 0o600)
	os.Chtimes(dead, old, old)

	_, errOut, code := runCommand(t, runSuper, "", "-c", conf, "-v")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"renamed file deferred/" + b + " as deferred/" + filepath.Base(filepath.Dir(q.Path(queue.Deferred, b))) + "/" + b, "removed file " + strings.TrimPrefix(dead, q.Dir()+"/"), "set mode of deferred/" + b + " to 0600"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("no %q in:\n%s", want, errOut)
		}
	}
	if where(q, a) != "incoming" || where(q, b) != "deferred" {
		t.Errorf("a in %q, b in %q", where(q, a), where(q, b))
	}
	if info, err := os.Stat(q.Path(queue.Deferred, b)); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("repaired file: %v %v", info, err)
	}
	if _, err := os.Stat(dead); err == nil {
		t.Error("incomplete file not purged")
	}
}
