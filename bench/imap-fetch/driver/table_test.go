package main

import (
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestReadResults(t *testing.T) {
	for _, tc := range []struct {
		in, err string
	}{
		{`{"system":"a","seconds":[1,2,3,4,5,6]}` + "\n\n", ""},
		{`{"system":"a","seconds":[1,2,3,4,5,6]}` + "\n" + `{"system":`, "line 2:"},
		{`{"system":"a","seconds":[1,2]}`, "line 1: 2 step times, want 6"},
	} {
		_, err := readResults(strings.NewReader(tc.in))
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("readResults(%q): %v, want %q", tc.in, err, tc.err)
		}
	}
}

// TestWriteTable: cold values, warm medians and the ratios A/B, for wall
// time and server CPU; memory the largest over the rounds.
func TestWriteTable(t *testing.T) {
	steps := func(v float64) []float64 { return []float64{v, v, v, v, v, v} }
	rs := []result{
		{System: "dovecot", Label: "Dovecot", Kind: "cold", Seconds: steps(0.2), CPU: steps(0.1), Messages: 10, Memory: treeMemory{ServingKiB: 2048, Serving: 1, TreeKiB: 4096, Procs: 3, NowKiB: 1024}},
		{System: "mailhorn", Label: "mailhorn", Kind: "cold", Seconds: steps(0.1), CPU: steps(0.05), Memory: treeMemory{ServingKiB: 4096, Serving: 1, TreeKiB: 4096, Procs: 1, NowKiB: 3072}},
		{System: "dovecot", Label: "Dovecot", Kind: "warm", Round: 1, Seconds: steps(0.010), CPU: steps(0.008)},
		{System: "mailhorn", Label: "mailhorn", Kind: "warm", Round: 1, Seconds: steps(0.030), CPU: steps(0.004)},
		{System: "dovecot", Label: "Dovecot", Kind: "warm", Round: 2, Seconds: steps(0.020), CPU: steps(0.008)},
		{System: "mailhorn", Label: "mailhorn", Kind: "warm", Round: 2, Seconds: steps(0.005), CPU: steps(0.004)},
		{System: "dovecot", Label: "Dovecot", Kind: "warm", Round: 3, Seconds: steps(0.030), CPU: steps(0.008)},
		{System: "mailhorn", Label: "mailhorn", Kind: "warm", Round: 3, Seconds: steps(0.010), CPU: steps(0.004)},
	}
	var b strings.Builder
	if err := writeTable(&b, rs, "mailhorn", "dovecot"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"| LOGIN+SELECT | 200.0 ms | 100.0 ms | **0.50×** | 20.0 ms | 10.0 ms | **0.50×** |",
		"| all steps | 1200.0 ms | 600.0 ms | **0.50×** | 120.0 ms | 60.0 ms | **0.50×** |",
		"| LOGIN+SELECT | 100.0 ms | 50.0 ms | **0.50×** | 8.0 ms | 4.0 ms | **0.50×** |",
		"| peak RSS (VmHWM) of the processes serving the session | 2.0 MiB (1 process) | 4.0 MiB (1 process) | 2.00× |",
		"| their RSS before LOGOUT (VmRSS) | 1.0 MiB (1 process) | 3.0 MiB (1 process) | 3.00× |",
		"| peak RSS (VmHWM) of the whole server, summed over its processes | 4.0 MiB (3 processes) | 4.0 MiB (1 process) | 1.00× |",
		"- LOGIN+SELECT: 10.0, 20.0, 30.0; 30.0, 5.0, 10.0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if err := writeTable(&b, rs, "mailhorn", "postfix"); err == nil {
		t.Error("a system without results: no error")
	}
}
