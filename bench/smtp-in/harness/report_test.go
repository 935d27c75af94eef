package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 5000: "5,000", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestTable(t *testing.T) {
	var lines []string
	for i, r := range []result{
		{System: "postfix", Label: "Postfix 3.7", Run: 1, Messages: 5000, PerSecond: 600, Seconds: 8.33, PeakRSSKiB: 400 << 10, MaxProcs: 50},
		{System: "mailhorn", Label: "mailhorn", Run: 1, Messages: 5000, PerSecond: 1500, Seconds: 3.33, PeakRSSKiB: 40 << 10, MaxProcs: 1},
		{System: "postfix", Label: "Postfix 3.7", Run: 2, Messages: 5000, PerSecond: 700, Seconds: 7.14, PeakRSSKiB: 420 << 10, MaxProcs: 52},
		{System: "mailhorn", Label: "mailhorn", Run: 2, Messages: 5000, PerSecond: 1300, Seconds: 3.85, PeakRSSKiB: 42 << 10, MaxProcs: 1},
		{System: "postfix", Label: "Postfix 3.7", Run: 3, Messages: 5000, PerSecond: 650, Seconds: 7.69, PeakRSSKiB: 410 << 10, MaxProcs: 51},
		{System: "mailhorn", Label: "mailhorn", Run: 3, Messages: 5000, PerSecond: 1400, Seconds: 3.57, PeakRSSKiB: 41 << 10, MaxProcs: 1},
	} {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(i, err)
		}
		lines = append(lines, string(b))
	}
	file := filepath.Join(t.TempDir(), "results.jsonl")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := tableCmd([]string{"-ratio", "mailhorn/postfix", file}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| | Postfix 3.7 | mailhorn | mailhorn / Postfix 3.7 |",
		"| messages/s, median (each run) | **650** (600, 700, 650) | **1400** (1500, 1300, 1400) | **2.15×** |",
		"| time until all 5,000 messages are in the Maildirs | 7.69 s | 3.57 s | 0.46× |",
		"410 MiB (up to 52 processes) | 41 MiB (1 process) | 0.10× |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	if err := tableCmd([]string{"-ratio", "mailhorn/exim", file}, &out); err == nil || !strings.Contains(err.Error(), "have postfix, mailhorn") {
		t.Errorf("unknown system in -ratio: error %v", err)
	}
	if err := os.WriteFile(file, []byte("{\"system\":\"x\"}\nnot json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := tableCmd([]string{file}, &out); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad line: error %v, want one naming line 2", err)
	}
}
