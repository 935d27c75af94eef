package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// sink is a running smtp-sink(1) (the relay mode's destination): it accepts
// every message and, with -c, prints running counters on stdout
// ("sess=N quit=N mesg=N", ended by a carriage return) each time a session
// ends, QUIT is said or "." is received. The harness reads them as they come.
type sink struct {
	addr   string
	cmd    *exec.Cmd
	stderr bytes.Buffer
	ended  chan struct{} // closed when smtp-sink's stdout ends

	mu       sync.Mutex
	counters sinkCounters
	base     sinkCounters // before the load (after the harness's own probe)
	readErr  error
}

type sinkCounters struct{ sessions, quits, messages int }

// startSink starts program (smtp-sink) on addr and waits for its greeting.
// user is smtp-sink's -u (the account it drops to; needed when run as root),
// empty to leave it out.
func startSink(ctx context.Context, program, addr, user string) (*sink, error) {
	args := []string{"-c"}
	if user != "" {
		args = append(args, "-u", user)
	}
	s := &sink{addr: addr, ended: make(chan struct{})}
	s.cmd = exec.Command(program, append(args, addr, "1000")...)
	s.cmd.Stderr = &s.stderr
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", program, err)
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", program, err)
	}
	go s.read(out)
	if err := waitGreeting(ctx, addr, 10*time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("smtp-sink on %s: %w (%s)", addr, err, strings.TrimSpace(s.stderr.String()))
	}
	// The probe above is a session of its own; count from here.
	deadline := time.Now().Add(5 * time.Second)
	for s.snapshot().quits == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	s.mu.Lock()
	s.base = s.counters
	s.mu.Unlock()
	return s, nil
}

func (s *sink) read(r io.Reader) {
	defer close(s.ended)
	sc := bufio.NewScanner(r)
	sc.Split(splitCR)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		c, err := parseSinkCounters(line)
		s.mu.Lock()
		if err != nil && s.readErr == nil {
			s.readErr = err
		} else if err == nil {
			s.counters = c
		}
		s.mu.Unlock()
	}
}

// splitCR is bufio.ScanLines for lines ended by "\r" or "\n".
func splitCR(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// parseSinkCounters parses one "sess=N quit=N mesg=N" line of smtp-sink -c.
func parseSinkCounters(line string) (sinkCounters, error) {
	var c sinkCounters
	if _, err := fmt.Sscanf(line, "sess=%d quit=%d mesg=%d", &c.sessions, &c.quits, &c.messages); err != nil {
		return sinkCounters{}, fmt.Errorf("smtp-sink -c: unexpected output %q: %w", line, err)
	}
	return c, nil
}

func (s *sink) snapshot() sinkCounters {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counters
}

// count is the number of messages the sink received since the load began.
func (s *sink) count() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readErr != nil {
		return 0, s.readErr
	}
	select {
	case <-s.ended:
		return 0, fmt.Errorf("smtp-sink exited: %s", strings.TrimSpace(s.stderr.String()))
	default:
	}
	return s.counters.messages - s.base.messages, nil
}

// stop ends smtp-sink and waits for it.
func (s *sink) stop() {
	if s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.ended:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
	}
	s.cmd.Wait()
}

// count is how many messages of the load have arrived: files in the
// Maildirs, or in relay mode messages the sink received.
func (l load) count() (int, error) {
	if l.sink != nil {
		return l.sink.count()
	}
	return countMaildirs(l.mailbase)
}

// check verifies the outcome of a run: the Maildirs (see verify) or, in
// relay mode, that the sink received exactly the messages sent, none twice
// (smtp-sink keeps no content, so duplicates show only as a surplus).
func (l load) check(ctx context.Context) error {
	if l.sink == nil {
		return l.verify(ctx)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(l.settle):
	}
	n, err := l.sink.count()
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if n != l.messages {
		return fmt.Errorf("verify: the sink received %d messages, want %d (a surplus means duplicate deliveries)", n, l.messages)
	}
	return nil
}
