package main

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPlan(t *testing.T) {
	tests := []struct {
		name                      string
		messages, sessions, boxes int
		wantSessions              int
		wantPerBox                map[string]int
	}{
		{"issue setting", 5000, 16, 10, 16, map[string]int{
			"user1": 625, "user2": 625, "user3": 625, "user4": 625, "user5": 625, "user6": 625,
			"user7": 313, "user8": 313, "user9": 312, "user10": 312}},
		{"one session", 7, 1, 3, 1, map[string]int{"user1": 7}},
		{"fewer messages than sessions", 3, 5, 10, 3, map[string]int{"user1": 1, "user2": 1, "user3": 1}},
		{"even", 100, 10, 10, 10, map[string]int{"user1": 10, "user2": 10, "user3": 10, "user4": 10, "user5": 10,
			"user6": 10, "user7": 10, "user8": 10, "user9": 10, "user10": 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := load{messages: tt.messages, sessions: tt.sessions, mailboxes: tt.boxes}
			p := l.plan()
			if len(p) != tt.wantSessions {
				t.Errorf("plan has %d sessions, want %d: %v", len(p), tt.wantSessions, p)
			}
			total := 0
			for _, s := range p {
				total += s.count
			}
			if total != tt.messages {
				t.Errorf("plan sends %d messages, want %d", total, tt.messages)
			}
			got := l.expected()
			if len(got) != len(tt.wantPerBox) {
				t.Errorf("expected() = %v, want %v", got, tt.wantPerBox)
			}
			for box, n := range tt.wantPerBox {
				if got[box] != n {
					t.Errorf("expected()[%s] = %d, want %d", box, got[box], n)
				}
			}
		})
	}
}

// fakeServer answers each connection with the given greeting lines and then
// one reply to QUIT.
func fakeServer(t *testing.T, greeting string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write([]byte(greeting))
				bufio.NewReader(c).ReadString('\n')
				c.Write([]byte("221 2.0.0 Bye\r\n"))
			}()
		}
	}()
	return l.Addr().String()
}

func TestWaitGreeting(t *testing.T) {
	ctx := context.Background()
	if err := waitGreeting(ctx, fakeServer(t, "220-bench.example ESMTP\r\n220 ready\r\n"), 5*time.Second); err != nil {
		t.Errorf("multi-line 220: %v", err)
	}
	if err := waitGreeting(ctx, fakeServer(t, "554 go away\r\n"), 300*time.Millisecond); err == nil {
		t.Error("554 greeting: no error")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	if err := waitGreeting(ctx, addr, 300*time.Millisecond); err == nil {
		t.Error("nobody listening: no error")
	}
}

// fakeSource writes a stand-in for smtp-source that, instead of speaking
// SMTP, delivers its messages straight into the Maildirs under base (none
// when deliver is false), so that load.run can be tested without a server.
func fakeSource(t *testing.T, base string, deliver bool) string {
	t.Helper()
	body := `while [ $# -gt 1 ]; do
	case $1 in
	-m) n=$2; shift 2 ;;
	-t) to=$2; shift 2 ;;
	-d) shift ;;
	*) shift 2 ;;
	esac
done
box=${to%@*}
mkdir -p "` + base + `/$box/new"
i=0
while [ $i -lt $n ]; do
	i=$((i + 1))
	printf 'To: <%s>\nMessage-Id: <%s.%s@fake>\n\nbody\n' "$to" $$ $i >"` + base + `/$box/new/$$.$i"
done
`
	if !deliver {
		body = "exit 0\n"
	}
	file := filepath.Join(t.TempDir(), "smtp-source")
	if err := os.WriteFile(file, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestRun(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	base := t.TempDir()
	l := load{addr: "127.0.0.1:1", mailbase: base, messages: 50, sessions: 4, mailboxes: 3,
		size: 100, domain: "bench.test", sender: "s@x", smtpSource: fakeSource(t, base, true),
		keepOpen: true, stall: time.Minute}
	ctx := context.Background()
	tm, err := l.run(ctx, time.Millisecond)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if tm.done <= 0 || tm.accepted <= 0 {
		t.Errorf("timings %+v, want both positive", tm)
	}
	if err := l.verify(ctx); err != nil {
		t.Errorf("verify: %v", err)
	}
	if _, err := l.run(ctx, time.Millisecond); err == nil || !strings.Contains(err.Error(), "already holds 50") {
		t.Errorf("second run into full Maildirs: error %v", err)
	}
}

func TestRunStalled(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	base := t.TempDir()
	l := load{addr: "127.0.0.1:1", mailbase: base, messages: 5, sessions: 2, mailboxes: 2,
		size: 100, domain: "bench.test", smtpSource: fakeSource(t, base, false), stall: 50 * time.Millisecond}
	if _, err := l.run(context.Background(), time.Millisecond); err == nil || !strings.Contains(err.Error(), "stalled") {
		t.Errorf("run without deliveries: error %v, want stalled", err)
	}
}
