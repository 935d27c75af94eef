package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

func tableCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("table", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ratio := fs.String("ratio", "mailhorn/dovecot", "systems A/B whose ratio A/B is shown")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("table needs one results file")
	}
	a, b, ok := strings.Cut(*ratio, "/")
	if !ok {
		return fmt.Errorf("-ratio %q: want A/B", *ratio)
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	rs, err := readResults(f)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	return writeTable(stdout, rs, a, b)
}

// readResults reads the JSON lines of run; a bad line is an error with its
// line number.
func readResults(r io.Reader) ([]result, error) {
	var rs []result
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var x result
		if err := json.Unmarshal(sc.Bytes(), &x); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if len(x.Seconds) != len(stepNames) {
			return nil, fmt.Errorf("line %d: %d step times, want %d", n, len(x.Seconds), len(stepNames))
		}
		rs = append(rs, x)
	}
	return rs, sc.Err()
}

// summary is one system's figures: the cold round's step values, the
// median of its warm rounds, and the peak memory over all rounds.
type summary struct {
	label    string
	cold     []float64   // nil without a cold round
	warm     []float64   // medians; nil without warm rounds
	warmAll  [][]float64 // per step, every warm round, in order
	mem      treeMemory  // the largest of each field over the rounds
	cpuKnown bool        // every round has CPU times
}

// summarize is system's summary of the values pick chooses (wall time or
// server CPU time per step).
func summarize(rs []result, system string, pick func(result) []float64) summary {
	s := summary{label: system, warmAll: make([][]float64, len(stepNames)), cpuKnown: true}
	warmRounds := 0
	for _, r := range rs {
		if r.System != system {
			continue
		}
		s.label = r.Label
		s.cpuKnown = s.cpuKnown && len(r.CPU) == len(stepNames)
		v := pick(r)
		if len(v) != len(stepNames) {
			continue
		}
		if r.Kind == "cold" {
			s.cold = v
		} else {
			warmRounds++
			for i, x := range v {
				s.warmAll[i] = append(s.warmAll[i], x)
			}
		}
		s.mem.ServingKiB = max(s.mem.ServingKiB, r.Memory.ServingKiB)
		s.mem.TreeKiB = max(s.mem.TreeKiB, r.Memory.TreeKiB)
		s.mem.NowKiB = max(s.mem.NowKiB, r.Memory.NowKiB)
		s.mem.Serving = max(s.mem.Serving, r.Memory.Serving)
		s.mem.Procs = max(s.mem.Procs, r.Memory.Procs)
	}
	if warmRounds > 0 {
		for _, v := range s.warmAll {
			s.warm = append(s.warm, median(v))
		}
	}
	return s
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// writeTable writes the tables of wall time and of server CPU time per
// step (ms, ratio A/B: lower is better for A), with their totals, then the
// memory table and every warm round's times.
func writeTable(w io.Writer, rs []result, a, b string) error {
	wall := func(r result) []float64 { return r.Seconds }
	cpu := func(r result) []float64 { return r.CPU }
	sa, sb := summarize(rs, a, wall), summarize(rs, b, wall)
	if sa.cold == nil && sa.warm == nil || sb.cold == nil && sb.warm == nil {
		return fmt.Errorf("no results of %s and %s both", a, b)
	}
	x := rs[0]
	fmt.Fprintf(w, "%d messages, %.1f MB (RFC822.SIZE); the body step fetches %d of them, %.1f MB; UID SEARCH finds %d.\n\n",
		x.Messages, float64(x.Bytes)/1e6, x.Bodies, float64(x.BodyBytes)/1e6, x.SearchHits)
	fmt.Fprintf(w, "Time per step as the client sees it (ms):\n\n")
	stepTable(w, sa, sb)
	if sa.cpuKnown && sb.cpuKnown {
		fmt.Fprintf(w, "\nServer CPU time per step (ms, user+system, all threads of its processes):\n\n")
		stepTable(w, summarize(rs, a, cpu), summarize(rs, b, cpu))
	}
	fmt.Fprintf(w, "\n| memory (max over the rounds) | %[1]s | %[2]s | %[2]s / %[1]s |\n|---|---|---|---|\n", sb.label, sa.label)
	fmt.Fprintf(w, "| peak RSS (VmHWM) of the processes serving the session | %s | %s | %s |\n", mib(sb.mem.ServingKiB, sb.mem.Serving), mib(sa.mem.ServingKiB, sa.mem.Serving), kibRatio(sa.mem.ServingKiB, sb.mem.ServingKiB))
	fmt.Fprintf(w, "| their RSS before LOGOUT (VmRSS) | %s | %s | %s |\n", mib(sb.mem.NowKiB, sb.mem.Serving), mib(sa.mem.NowKiB, sa.mem.Serving), kibRatio(sa.mem.NowKiB, sb.mem.NowKiB))
	fmt.Fprintf(w, "| peak RSS (VmHWM) of the whole server, summed over its processes | %s | %s | %s |\n", mib(sb.mem.TreeKiB, sb.mem.Procs), mib(sa.mem.TreeKiB, sa.mem.Procs), kibRatio(sa.mem.TreeKiB, sb.mem.TreeKiB))
	fmt.Fprintf(w, "\nWarm rounds, ms per step (%s; %s):\n", sb.label, sa.label)
	for i, name := range stepNames {
		fmt.Fprintf(w, "- %s: %s; %s\n", name, list(sb.warmAll[i]), list(sa.warmAll[i]))
	}
	return nil
}

// stepTable is one table of the steps: B cold, A cold, A/B, B warm, A
// warm, A/B, and the total of the steps.
func stepTable(w io.Writer, sa, sb summary) {
	fmt.Fprintf(w, "| step | %[1]s cold | %[2]s cold | %[2]s / %[1]s cold | %[1]s warm | %[2]s warm | %[2]s / %[1]s warm |\n", sb.label, sa.label)
	fmt.Fprintf(w, "|---|---|---|---|---|---|---|\n")
	row := func(name string, i int, ca, cb, wa, wb []float64) {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", name,
			ms(cb, i), ms(ca, i), ratio(ca, cb, i), ms(wb, i), ms(wa, i), ratio(wa, wb, i))
	}
	for i, name := range stepNames {
		row(name, i, sa.cold, sb.cold, sa.warm, sb.warm)
	}
	// The sum of the rows above (for warm: of the medians).
	row("all steps", 0, total(sa.cold), total(sb.cold), total(sa.warm), total(sb.warm))
}

func total(v []float64) []float64 {
	if v == nil {
		return nil
	}
	t := 0.0
	for _, x := range v {
		t += x
	}
	return []float64{t}
}

func ms(v []float64, i int) string {
	if i >= len(v) {
		return "–"
	}
	return fmt.Sprintf("%.1f ms", v[i]*1000)
}

func ratio(a, b []float64, i int) string {
	if i >= len(a) || i >= len(b) || b[i] == 0 {
		return "–"
	}
	return fmt.Sprintf("**%.2f×**", a[i]/b[i])
}

func mib(kib int64, procs int) string {
	s := "process"
	if procs != 1 {
		s = "processes"
	}
	return fmt.Sprintf("%.1f MiB (%d %s)", float64(kib)/1024, procs, s)
}

func kibRatio(a, b int64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", float64(a)/float64(b))
}

func list(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.1f", x*1000)
	}
	return strings.Join(s, ", ")
}
