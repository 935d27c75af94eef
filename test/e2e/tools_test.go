package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestRootHangingCommandAndQueueTools: a |command that hangs is killed at
// command_time_limit (its whole process group) and the message deferred;
// the queue tools then work on it against the running root system:
// `queue -p` as root and as an ordinary user (Postfix's postqueue -p
// layout), `cat -q`, `super -h`, `-H`, `-d` (refused to an ordinary user).
func TestRootHangingCommandAndQueueTools(t *testing.T) {
	t.Parallel()
	r := newRootSystem(t, "command_time_limit = 2s")
	u := r.addUser("tools")
	pidFile := filepath.Join(r.out, "hang.pid")
	// exec: the pid written is the one of the sleep itself.
	r.setAliases(fmt.Sprintf("e2e-hang: \"|echo $$ >> %s; exec sleep 600\"\n", pidFile))
	t.Cleanup(func() {
		// Should the mail system fail to kill them, the commands this
		// test started do not outlive it.
		b, _ := os.ReadFile(pidFile)
		for _, f := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(f)
			if err != nil || pid <= 1 {
				continue
			}
			// Only if the pid is still that command (pids are reused).
			if cl, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && string(cl) == "sleep\x00600\x00" {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	r.start()
	c := dial(t, r.addr())
	c.cmd("EHLO client.e2e.test", 250, "")
	id := c.sendMail("carol@example.net", []string{"e2e-hang@localhost"},
		testMessage("carol@example.net", "e2e-hang@localhost", "<hang-1@e2e.test>", "hanging command"))
	c.cmd("QUIT", 221, "")

	line := r.status(id, "e2e-hang@localhost", "deferred")
	t.Logf("%s", line)
	if !strings.Contains(line, "dsn=4.") {
		t.Errorf("not a 4.X.X deferral: %s", line)
	}
	r.waitKilled(pidFile, 1)

	// mailq as root: the message, in Postfix's layout.
	code, out := r.mailhorn("queue", "-p", "-c", r.etc)
	if code != 0 {
		t.Fatalf("queue -p: exit %d:\n%s", code, out)
	}
	checkMailqShape(t, out, map[string]string{id: " "}, "carol@example.net", "e2e-hang@localhost")
	// The same as an ordinary user, through the public socket.
	code, userOut := r.runAsUser(u, "queue", "-p", "-c", r.etc)
	if code != 0 || userOut != out {
		t.Errorf("queue -p as %s: exit %d:\n%s\nwant what root saw:\n%s", u.name, code, userOut, out)
	}
	code, out = r.mailhorn("cat", "-c", r.etc, "-q", id)
	for _, want := range []string{"*** ENVELOPE RECORDS ", "sender: carol@example.net\n", "recipient: e2e-hang@localhost\n",
		"*** MESSAGE CONTENTS ", "Message-ID: <hang-1@e2e.test>\n", "*** MESSAGE FILE END "} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("cat -q %s: exit %d, no %q in:\n%s", id, code, want, out)
		}
	}

	// An ordinary user may not delete, and is told so in postsuper's
	// words.
	if code, out := r.runAsUser(u, "super", "-c", r.etc, "-d", id); code == 0 || !strings.Contains(out, "postsuper: fatal: use of this command is reserved for the superuser") {
		t.Errorf("super -d as %s: exit %d:\n%s\nwant a failure: \"postsuper: fatal: use of this command is reserved for the superuser ...\"", u.name, code, out)
	}

	// Hold: shown with "!", not delivered.
	if code, out := r.mailhorn("super", "-c", r.etc, "-h", id); code != 0 || !strings.Contains(out, "postsuper: "+id+": placed on hold") {
		t.Errorf("super -h: exit %d:\n%s", code, out)
	}
	_, out = r.mailhorn("queue", "-p", "-c", r.etc)
	checkMailqShape(t, out, map[string]string{id: "!"}, "carol@example.net", "e2e-hang@localhost")

	// Release: scheduled at once, so the command runs (and hangs) again.
	if code, out := r.mailhorn("super", "-c", r.etc, "-H", id); code != 0 || !strings.Contains(out, "postsuper: "+id+": released from hold") {
		t.Errorf("super -H: exit %d:\n%s", code, out)
	}
	r.eventually("deferred a second time after the release", func() bool {
		return len(r.logLines(id+": to=<e2e-hang@localhost>", "status=deferred")) >= 2
	}, r.maillog)
	r.waitKilled(pidFile, 2)

	// Delete.
	if code, out := r.mailhorn("super", "-c", r.etc, "-d", id); code != 0 || !strings.Contains(out, "postsuper: "+id+": removed") {
		t.Errorf("super -d: exit %d:\n%s", code, out)
	}
	r.waitQueueEmpty()
	if code, out := r.mailhorn("queue", "-p", "-c", r.etc); code != 0 || strings.TrimSpace(out) != "Mail queue is empty" {
		t.Errorf("queue -p after super -d: exit %d:\n%s", code, out)
	}
	r.stop()
}

// waitKilled waits until hang.pid holds n pids and none of them runs any
// more: the command was killed, not left behind.
func (r *rootSystem) waitKilled(pidFile string, n int) {
	r.t.Helper()
	var pids []int
	r.eventually(fmt.Sprintf("%d hanging command(s) started and killed", n), func() bool {
		b, _ := os.ReadFile(pidFile)
		pids = pids[:0]
		for _, f := range strings.Fields(string(b)) {
			p, err := strconv.Atoi(f)
			if err != nil {
				return false
			}
			pids = append(pids, p)
		}
		if len(pids) < n {
			return false
		}
		for _, p := range pids {
			if syscall.Kill(p, 0) == nil && !zombie(p) {
				return false
			}
		}
		return true
	}, func() string { return fmt.Sprintf("pids %v\nmail log:\n%s", pids, r.maillog()) })
}

// zombie tells a process that has exited but not been reaped.
func zombie(pid int) bool {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(st), ") ")
	return strings.HasPrefix(rest, "Z")
}

// The mailq patterns are postqueue -p's layout with long queue IDs
// (enable_long_queue_ids = yes), see docs/queue-tools.md and Postfix's
// showq: the heading, per message a line "ID[*! ] SIZE DATE SENDER", its
// recipients (with the deferral reason in parentheses), a blank line, and
// "-- N Kbytes in N Request(s)." at the end.
var (
	mailqHeading = regexp.MustCompile(`^----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------$`)
	// "%-17s %8ld %19.19s %s": ID and status, size, asctime, sender.
	// Postfix's long IDs have letters of both cases and vary in length.
	mailqFirst = regexp.MustCompile(`^([0-9A-Za-z]+)([*!]?) +(\d+) ([A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (\S+)$`)
	// "%*s(%s)", right-aligned at column 78 when it fits.
	mailqReason = regexp.MustCompile(`^( *)\((.+)\)$`)
	// "%-17s %8s %-19s %s" with three empty strings: 47 spaces.
	mailqRcpt  = regexp.MustCompile(`^ {47}(\S+)$`)
	mailqTotal = regexp.MustCompile(`^-- \d+ Kbytes in (\d+) Requests?\.$`)
)

// mailqEntry is one message of queue -p / postqueue -p output.
type mailqEntry struct {
	id, status, sender string
	rcpts              []string
}

// parseMailq reads queue -p output, checking it against Postfix's layout
// line by line (errors name the line).
func parseMailq(t *testing.T, who, out string) []mailqEntry {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	bad := func(why string) { t.Errorf("%s: %s:\n%s", who, why, out) }
	if len(lines) < 4 || !mailqHeading.MatchString(lines[0]) {
		bad("no Postfix heading line")
		return nil
	}
	var entries []mailqEntry
	last := len(lines) - 1
	for i := 1; i < last; {
		f := mailqFirst.FindStringSubmatch(lines[i])
		if f == nil {
			bad(fmt.Sprintf("line %d is not a message's first line: %q", i+1, lines[i]))
			return entries
		}
		if want := fmt.Sprintf("%-17s %8s %s %s", f[1]+f[2], strings.TrimSpace(f[3]), f[4], f[5]); lines[i] != want {
			bad(fmt.Sprintf("line %d: %q, Postfix's columns (%%-17s %%8ld %%19.19s %%s) give %q", i+1, lines[i], want))
		}
		e := mailqEntry{id: f[1], status: f[2], sender: f[5]}
		if e.status == "" {
			e.status = " "
		}
		for i++; i < last && lines[i] != ""; i++ {
			switch rm := mailqReason.FindStringSubmatch(lines[i]); {
			case rm != nil:
				if want := max(0, 76-len(rm[2])); len(rm[1]) != want {
					bad(fmt.Sprintf("line %d: reason indented by %d, Postfix indents it by %d", i+1, len(rm[1]), want))
				}
			case mailqRcpt.MatchString(lines[i]):
				e.rcpts = append(e.rcpts, mailqRcpt.FindStringSubmatch(lines[i])[1])
			default:
				bad(fmt.Sprintf("line %d is neither a reason nor a recipient: %q", i+1, lines[i]))
			}
		}
		if len(e.rcpts) == 0 {
			bad("message " + e.id + " without recipients")
		}
		entries = append(entries, e)
		i++ // the blank line after each message
	}
	m := mailqTotal.FindStringSubmatch(lines[last])
	if m == nil || m[1] != strconv.Itoa(len(entries)) {
		bad(fmt.Sprintf("last line is not \"-- N Kbytes in %d Request(s).\"", len(entries)))
	}
	return entries
}

// checkMailqShape checks queue -p output against Postfix's layout and that
// it lists exactly the messages in ids (ID → status character) with this
// sender and recipient.
func checkMailqShape(t *testing.T, out string, ids map[string]string, sender, rcpt string) {
	t.Helper()
	entries := parseMailq(t, "queue -p", out)
	if len(entries) != len(ids) {
		t.Errorf("queue -p lists %d messages, want %d:\n%s", len(entries), len(ids), out)
	}
	for _, e := range entries {
		if st, ok := ids[e.id]; !ok || st != e.status || e.sender != sender || strings.Join(e.rcpts, " ") != rcpt {
			t.Errorf("queue -p: message %s status %q from %s to %q, want one of %v from %s to %s:\n%s", e.id, e.status, e.sender, e.rcpts, ids, sender, rcpt, out)
		}
	}
}
