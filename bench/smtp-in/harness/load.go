package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// load describes the traffic of one run and where it must land.
type load struct {
	addr       string
	mailbase   string
	messages   int
	sessions   int
	mailboxes  int
	size       int
	domain     string
	sender     string
	smtpSource string
	keepOpen   bool
	sink       *sink         // relay mode: count at this sink instead of in the Maildirs
	settle     time.Duration // wait before verifying
	stall      time.Duration // give up when deliveries stop for this long
}

// session is one smtp-source process: count messages to one recipient.
type session struct {
	mailbox string // user1 ... userN
	count   int
}

// plan spreads the messages over the sessions as evenly as they divide, and
// the sessions over the mailboxes round-robin. With 16 sessions and 10
// mailboxes, user1..user6 get two sessions' worth and user7..user10 one:
// every session stays busy until the end, which matters more for a
// throughput figure than equal mailboxes.
func (l load) plan() []session {
	var out []session
	for i := 0; i < l.sessions; i++ {
		n := l.messages / l.sessions
		if i < l.messages%l.sessions {
			n++
		}
		if n > 0 {
			out = append(out, session{mailbox: "user" + strconv.Itoa(i%l.mailboxes+1), count: n})
		}
	}
	return out
}

// expected is how many messages each mailbox must hold after the run.
func (l load) expected() map[string]int {
	want := map[string]int{}
	for _, s := range l.plan() {
		want[s.mailbox] += s.count
	}
	return want
}

type timings struct {
	accepted time.Duration // until the last smtp-source exited (every message had its 250)
	done     time.Duration // until the last message was in a Maildir
}

// run sends the load and waits until every message is in a Maildir.
func (l load) run(ctx context.Context, poll time.Duration) (timings, error) {
	if n, err := l.count(); err != nil {
		return timings{}, err
	} else if n != 0 {
		return timings{}, fmt.Errorf("%s already holds %d messages; each run needs empty Maildirs (or a fresh sink)", l.mailbase, n)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type exit struct {
		err    error
		stderr string
	}
	sessions := l.plan()
	exits := make(chan exit, len(sessions))
	start := time.Now()
	for _, s := range sessions {
		args := []string{"-s", "1", "-m", strconv.Itoa(s.count), "-l", strconv.Itoa(l.size),
			"-M", "client.bench.example", "-f", l.sender, "-t", s.mailbox + "@" + l.domain}
		if l.keepOpen {
			args = append([]string{"-d"}, args...)
		}
		cmd := exec.CommandContext(ctx, l.smtpSource, append(args, l.addr)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			return timings{}, fmt.Errorf("start %s: %w", l.smtpSource, err)
		}
		go func() {
			err := cmd.Wait()
			exits <- exit{err, strings.TrimSpace(stderr.String())}
		}()
	}

	var t timings
	running := len(sessions)
	delivered, lastChange := 0, time.Now()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for running > 0 || t.done == 0 {
		select {
		case <-ctx.Done():
			return t, fmt.Errorf("gave up with %d of %d messages delivered and %d smtp-source processes running: %w", delivered, l.messages, running, ctx.Err())
		case e := <-exits:
			if e.err != nil {
				return t, fmt.Errorf("smtp-source: %v: %s", e.err, e.stderr)
			}
			running--
			if running == 0 {
				t.accepted = time.Since(start)
			}
		case <-tick.C:
			if t.done != 0 {
				continue
			}
			n, err := l.count()
			if err != nil {
				return t, err
			}
			if n >= l.messages {
				t.done = time.Since(start)
			}
			if n != delivered {
				delivered, lastChange = n, time.Now()
			} else if running == 0 && time.Since(lastChange) > l.stall {
				return t, fmt.Errorf("stalled: every message was accepted, but only %d of %d arrived (Maildirs or sink) and none arrived for %v (deferred? see the server's log)", n, l.messages, l.stall)
			}
		}
	}
	return t, nil
}

// waitGreeting connects until the server answers with a 220 greeting, then
// says QUIT, so that the clock starts only once the server is ready.
func waitGreeting(ctx context.Context, addr string, patience time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, patience)
	defer cancel()
	var lastErr error
	for {
		if lastErr = greet(ctx, addr); lastErr == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no SMTP greeting from %s after %v: %w", addr, patience, lastErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func greet(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("read greeting: %w", err)
		}
		if !strings.HasPrefix(line, "220") {
			return fmt.Errorf("greeting: %q", strings.TrimSpace(line))
		}
		if len(line) < 4 || line[3] != '-' {
			break
		}
	}
	if _, err := c.Write([]byte("QUIT\r\n")); err != nil {
		return err
	}
	_, err = r.ReadString('\n')
	return err
}

func readPidfile(name string) (int, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, fmt.Errorf("pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s: want a process ID, got %q", name, strings.TrimSpace(string(b)))
	}
	return pid, nil
}
