package main

import (
	"os"
	"testing"
	"time"
)

func TestParseStatus(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want procStatus
	}{
		{"Name:\timap\nVmHWM:\t   13504 kB\nVmRSS:\t   12000 kB\n", procStatus{"imap", 13504, 12000}},
		{"Name:\tkworker/0:1\n", procStatus{name: "kworker/0:1"}},
		{"VmHWM: lots kB\nVmRSS: -5 kB\nnonsense\n", procStatus{}},
		{"", procStatus{}},
	} {
		if got := parseStatus([]byte(tc.in)); got != tc.want {
			t.Errorf("parseStatus(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParsePPID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"42 (imap) S 17 42 42 0 -1", 17, true},
		{"42 (a b) c) R 1 42", 1, true},
		{"42 (imap)", 0, false},
		{"garbage", 0, false},
		{"42 (x) S notanumber", 0, false},
	} {
		got, ok := parsePPID([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("parsePPID(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseSchedstat(t *testing.T) {
	if ns, ok := parseSchedstat([]byte("123456 789 10\n")); !ok || ns != 123456 {
		t.Errorf("got %d, %v", ns, ok)
	}
	for _, bad := range []string{"", "x 1 2", "-1 0 0"} {
		if _, ok := parseSchedstat([]byte(bad)); ok {
			t.Errorf("parseSchedstat(%q) accepted", bad)
		}
	}
}

// TestReadTree reads this test's own process: it is its own tree.
func TestReadTree(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	m, err := readTree("/proc", os.Getpid(), "")
	if err != nil {
		t.Fatal(err)
	}
	if m.Procs < 1 || m.Serving != m.Procs || m.TreeKiB <= 0 || m.ServingKiB != m.TreeKiB || m.NowKiB <= 0 || m.NowKiB > m.ServingKiB {
		t.Errorf("own process: %+v", m)
	}
	none, err := readTree("/proc", os.Getpid(), "no-such-process-name")
	if err != nil || none.Serving != 0 || none.ServingKiB != 0 || none.NowKiB != 0 || none.Procs < 1 || none.TreeKiB <= 0 {
		t.Errorf("serving filter: %+v, %v", none, err)
	}
	if _, err := readTree("/proc", 1<<30, ""); err == nil {
		t.Error("a process that does not exist: no error")
	}

	before := readCPU("/proc", os.Getpid())
	for end := time.Now().Add(30 * time.Millisecond); time.Now().Before(end); {
	}
	if d := readCPU("/proc", os.Getpid()).since(before); d < int64(10*time.Millisecond) {
		t.Errorf("30 ms of spinning counted as %v of CPU", time.Duration(d))
	}
}

func TestCPUSince(t *testing.T) {
	before := cpuSnapshot{1: 100, 2: 50, 3: 70}
	after := cpuSnapshot{1: 130, 2: 50, 4: 9} // 3 exited, 4 was born
	if got := after.since(before); got != 39 {
		t.Errorf("since = %d, want 39", got)
	}
}
