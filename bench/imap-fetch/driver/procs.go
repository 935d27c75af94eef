package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// treeMemory is the peak resident memory of a server's process tree.
type treeMemory struct {
	ServingKiB int64 // sum of VmHWM over the processes named serving (all when empty)
	TreeKiB    int64 // sum of VmHWM over the whole tree
	Serving    int   // processes counted in ServingKiB
	Procs      int   // processes in the tree
	// NowKiB is the sum of VmRSS (resident now) over the serving processes.
	NowKiB int64
}

// readTree sums VmHWM over root and its descendants, read from proc (the
// /proc directory).
func readTree(proc string, root int, serving string) (treeMemory, error) {
	var m treeMemory
	for _, pid := range descendants(proc, root) {
		b, err := os.ReadFile(fmt.Sprintf("%s/%d/status", proc, pid))
		if err != nil {
			continue // exited since the listing
		}
		st := parseStatus(b)
		m.Procs++
		m.TreeKiB += st.hwm
		if serving == "" || st.name == serving {
			m.Serving++
			m.ServingKiB += st.hwm
			m.NowKiB += st.rss
		}
	}
	if m.Procs == 0 {
		return m, fmt.Errorf("read the process tree of %d: no such process", root)
	}
	return m, nil
}

// cpuSnapshot is the CPU time (ns) each thread of a process tree has run,
// from proc/PID/task/TID/schedstat, by thread ID.
type cpuSnapshot map[int]int64

func readCPU(proc string, root int) cpuSnapshot {
	snap := cpuSnapshot{}
	for _, pid := range descendants(proc, root) {
		tasks, err := os.ReadDir(fmt.Sprintf("%s/%d/task", proc, pid))
		if err != nil {
			continue
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			b, err := os.ReadFile(fmt.Sprintf("%s/%d/task/%d/schedstat", proc, pid, tid))
			if err != nil {
				continue
			}
			if ns, ok := parseSchedstat(b); ok {
				snap[tid] = ns
			}
		}
	}
	return snap
}

// since is the CPU time run between before and s by the threads alive in
// s (a thread that exited in between is not counted; one born in between
// counts whole).
func (s cpuSnapshot) since(before cpuSnapshot) int64 {
	var d int64
	for tid, ns := range s {
		if ns >= before[tid] {
			d += ns - before[tid]
		}
	}
	return d
}

// parseSchedstat is the first field of a schedstat line: nanoseconds on
// the CPU.
func parseSchedstat(b []byte) (int64, bool) {
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, false
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	return ns, err == nil && ns >= 0
}

// procStatus is what readTree needs of /proc/PID/status.
type procStatus struct {
	name string
	hwm  int64 // KiB
	rss  int64 // KiB
}

// parseStatus reads the Name and VmHWM lines of a /proc/PID/status text;
// anything else, and lines it cannot read, are ignored.
func parseStatus(b []byte) procStatus {
	var st procStatus
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Name":
			st.name = v
		case "VmHWM", "VmRSS":
			n, err := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
			if err != nil || n < 0 {
				continue
			}
			if k == "VmHWM" {
				st.hwm = n
			} else {
				st.rss = n
			}
		}
	}
	return st
}

// descendants lists root and every process below it, from the parent PIDs
// in proc/*/stat.
func descendants(proc string, root int) []int {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("%s/%d/stat", proc, pid))
		if err != nil {
			continue
		}
		if ppid, ok := parsePPID(b); ok {
			children[ppid] = append(children[ppid], pid)
		}
	}
	if _, err := os.Stat(fmt.Sprintf("%s/%d", proc, root)); err != nil {
		return nil
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// parsePPID is the fourth field of /proc/PID/stat, after the command name
// in parentheses (which may itself hold spaces and parentheses).
func parsePPID(b []byte) (int, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}
