package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// memory is what the sampler saw of the server's process tree.
type memory struct {
	peakRSS  int64 // KiB: peak of the summed VmRSS, or VmHWM for a lone process
	peakPSS  int64 // KiB: peak of the summed Pss
	maxProcs int
}

type sampler struct {
	root int

	mu       sync.Mutex
	mem      memory
	rootHWM  int64
	children bool // ever saw a descendant of root
}

func newSampler(root int) *sampler { return &sampler{root: root} }

// start samples every interval until the returned function is called; that
// function takes a last sample and returns the peaks.
func (s *sampler) start(ctx context.Context, interval time.Duration) func() memory {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() memory {
		cancel()
		wg.Wait()
		s.sample()
		s.mu.Lock()
		defer s.mu.Unlock()
		m := s.mem
		if !s.children && s.rootHWM > m.peakRSS {
			m.peakRSS = s.rootHWM
		}
		return m
	}
}

func (s *sampler) sample() {
	pids := descendants(s.root)
	var rss, pss int64
	n := 0
	for _, pid := range pids {
		st, err := readStatus(pid)
		if err != nil {
			continue // exited between the listing and now
		}
		n++
		rss += st["VmRSS"]
		if pid == s.root {
			s.mu.Lock()
			s.rootHWM = max(s.rootHWM, st["VmHWM"])
			s.mu.Unlock()
		}
		if p, err := readPss(pid); err == nil {
			pss += p
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > 1 {
		s.children = true
	}
	s.mem.peakRSS = max(s.mem.peakRSS, rss)
	s.mem.peakPSS = max(s.mem.peakPSS, pss)
	s.mem.maxProcs = max(s.mem.maxProcs, n)
}

// descendants lists root and every process below it, from the parent links
// in /proc/PID/stat.
func descendants(root int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return []int{root}
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil {
			children[st.ppid] = append(children[st.ppid], pid)
		}
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// procStat is what we use of /proc/PID/stat; times in clock ticks.
type procStat struct {
	ppid                         int
	utime, stime, cutime, cstime int64
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	// The command name in parentheses may hold spaces and parentheses; the
	// fields after the last ")" are "state ppid pgrp ...", see proc(5).
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return procStat{}, errors.New("malformed stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return procStat{}, errors.New("malformed stat")
	}
	var st procStat
	if st.ppid, err = strconv.Atoi(f[1]); err != nil {
		return procStat{}, err
	}
	for j, dst := range []*int64{&st.utime, &st.stime, &st.cutime, &st.cstime} {
		if *dst, err = strconv.ParseInt(f[11+j], 10, 64); err != nil {
			return procStat{}, err
		}
	}
	return st, nil
}

// userHZ is the unit of the times in /proc/PID/stat; 100 on every Linux
// architecture we run on.
const userHZ = 100

// treeCPU is the CPU time, in seconds, used so far by the processes of the
// tree under root that are alive now, plus what the root collected from
// children it reaped. The difference of two readings is the tree's CPU
// time in between, also for children that exited in between (as long as
// root reaps them, which both Postfix's master and Go's os/exec do).
func treeCPU(root int) cpuUse {
	var user, sys int64
	for _, pid := range descendants(root) {
		st, err := readStat(pid)
		if err != nil {
			continue
		}
		user += st.utime
		sys += st.stime
		if pid == root {
			user += st.cutime
			sys += st.cstime
		}
	}
	return cpuUse{user: float64(user) / userHZ, sys: float64(sys) / userHZ}
}

// cpuUse is CPU time in seconds, in user mode and in the kernel.
type cpuUse struct{ user, sys float64 }

func (c cpuUse) since(before cpuUse) cpuUse {
	return cpuUse{user: c.user - before.user, sys: c.sys - before.sys}
}

// readStatus returns the "kB" fields of /proc/PID/status, in KiB.
func readStatus(pid int) (map[string]int64, error) {
	return readKB("/proc/" + strconv.Itoa(pid) + "/status")
}

func readPss(pid int) (int64, error) {
	m, err := readKB("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return 0, err
	}
	return m["Pss"], nil
}

func readKB(file string) (map[string]int64, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		if v, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
			m[name] = v
		}
	}
	return m, sc.Err()
}

// cpuTimes is the first line of /proc/stat: jiffies of all CPUs together.
type cpuTimes struct{ busy, total int64 }

func readCPU() (cpuTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, fmt.Errorf("CPU times: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return cpuTimes{}, fmt.Errorf("CPU times: unexpected /proc/stat line %q", line)
	}
	var t cpuTimes
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return cpuTimes{}, fmt.Errorf("CPU times: %q: %w", line, err)
		}
		if i >= 8 { // guest times are already counted in user and nice
			break
		}
		t.total += n
		if i != 3 && i != 4 { // idle, iowait
			t.busy += n
		}
	}
	return t, nil
}

func (t cpuTimes) busySince(before cpuTimes) float64 {
	if t.total <= before.total {
		return 0
	}
	return float64(t.busy-before.busy) / float64(t.total-before.total)
}
