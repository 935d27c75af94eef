package main

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseSinkCounters(t *testing.T) {
	tests := []struct {
		line    string
		want    sinkCounters
		wantErr bool
	}{
		{"sess=0 quit=0 mesg=1", sinkCounters{0, 0, 1}, false},
		{"sess=16 quit=16 mesg=5000", sinkCounters{16, 16, 5000}, false},
		{"mesg=1", sinkCounters{}, true},
		{"sess=x quit=0 mesg=1", sinkCounters{}, true},
		{"", sinkCounters{}, true},
	}
	for _, tt := range tests {
		got, err := parseSinkCounters(tt.line)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseSinkCounters(%q) = %v, %v; want %v, error %v", tt.line, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestSplitCR(t *testing.T) {
	sc := bufio.NewScanner(strings.NewReader("sess=0 quit=0 mesg=1\rsess=1 quit=1 mesg=1\r\nlast"))
	sc.Split(splitCR)
	var got []string
	for sc.Scan() {
		got = append(got, sc.Text())
	}
	want := []string{"sess=0 quit=0 mesg=1", "sess=1 quit=1 mesg=1", "", "last"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("tokens %q, want %q", got, want)
	}
}

func FuzzParseSinkCounters(f *testing.F) {
	f.Add("sess=1 quit=1 mesg=2")
	f.Add("sess=-1 quit=0 mesg=99999999999999999999")
	f.Fuzz(func(t *testing.T, line string) {
		c, err := parseSinkCounters(line)
		if err != nil && c != (sinkCounters{}) {
			t.Errorf("error %v with counters %v", err, c)
		}
	})
}

// smtpTool finds a Postfix test program, or skips (fails under CI).
func smtpTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath("/usr/sbin/" + name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found (install postfix): %v", name, err)
		}
		t.Skipf("%s not found (install postfix): %v", name, err)
	}
	return p
}

func loopbackPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// TestRelayModeRealSink runs the relay mode's counting against the real
// smtp-sink, with smtp-source talking to the sink directly (the sink plays
// both the server and the relay's destination): the run ends when the sink
// has counted every message, the harness's own greeting probe is not
// counted, and a surplus message fails the check.
func TestRelayModeRealSink(t *testing.T) {
	sinkProg, source := smtpTool(t, "smtp-sink"), smtpTool(t, "smtp-source")
	user := ""
	if os.Geteuid() == 0 {
		user = "nobody" // smtp-sink refuses to run as root without -u
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	addr := loopbackPort(t)
	s, err := startSink(ctx, sinkProg, addr, user)
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	l := load{addr: addr, messages: 30, sessions: 4, mailboxes: 2, size: 512, domain: "bench.test",
		sender: "s@bench.example", smtpSource: source, keepOpen: true, settle: 200 * time.Millisecond,
		stall: 10 * time.Second, sink: s}
	m, err := l.run(ctx, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if m.done <= 0 {
		t.Errorf("done = %v, want a positive duration", m.done)
	}
	if err := l.check(ctx); err != nil {
		t.Errorf("check after an exact run: %v", err)
	}
	if out, err := exec.CommandContext(ctx, source, "-m", "1", "-t", "x@bench.test", addr).CombinedOutput(); err != nil {
		t.Fatalf("smtp-source: %v: %s", err, out)
	}
	if err := l.check(ctx); err == nil || !strings.Contains(err.Error(), "received 31 messages, want 30") {
		t.Errorf("check after one message too many: %v, want a surplus error", err)
	}
}
