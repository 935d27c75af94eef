package main

import (
	"os"
	"os/exec"
	"slices"
	"testing"
)

func TestDescendants(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	got := descendants(os.Getpid())
	if got[0] != os.Getpid() || !slices.Contains(got, cmd.Process.Pid) {
		t.Errorf("descendants(self) = %v, want self first and child %d", got, cmd.Process.Pid)
	}
}

func TestSamplerOwnProcess(t *testing.T) {
	s := newSampler(os.Getpid())
	s.sample()
	st, err := readStatus(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st["VmHWM"] <= 0 || st["VmRSS"] <= 0 {
		t.Errorf("status VmHWM=%d VmRSS=%d, want positive", st["VmHWM"], st["VmRSS"])
	}
	if s.mem.peakRSS <= 0 || s.mem.maxProcs < 1 {
		t.Errorf("sample: %+v, want positive RSS and at least one process", s.mem)
	}
}

func TestReadCPU(t *testing.T) {
	a, err := readCPU()
	if err != nil {
		t.Fatal(err)
	}
	if a.total <= 0 || a.busy < 0 || a.busy > a.total {
		t.Errorf("readCPU = %+v", a)
	}
	if f := a.busySince(a); f != 0 {
		t.Errorf("busySince(self) = %v, want 0", f)
	}
	b := cpuTimes{busy: a.busy + 50, total: a.total + 100}
	if f := b.busySince(a); f != 0.5 {
		t.Errorf("busySince = %v, want 0.5", f)
	}
}

func TestTreeCPU(t *testing.T) {
	st, err := readStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.ppid != os.Getppid() {
		t.Errorf("readStat ppid = %d, want %d", st.ppid, os.Getppid())
	}
	// Burn a little CPU in a child and reap it: its time must show up.
	before := treeCPU(os.Getpid())
	if err := exec.Command("sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done").Run(); err != nil {
		t.Skipf("sh: %v", err)
	}
	if after := treeCPU(os.Getpid()).since(before); after.user+after.sys <= 0 {
		t.Errorf("CPU time of a busy child = %+v, want more than zero", after)
	}
}
