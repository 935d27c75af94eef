package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// tableCmd prints the Markdown table of a results file: one column per
// system (in order of first appearance), medians over its runs, and with
// -ratio A/B a last column A÷B.
func tableCmd(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("table", flag.ContinueOnError)
	ratio := fs.String("ratio", "", "add a column SYSTEM_A/SYSTEM_B with A's figure divided by B's")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: table [-ratio A/B] FILE")
	}
	rs, err := readResults(fs.Arg(0))
	if err != nil {
		return err
	}
	return writeTable(w, rs, *ratio)
}

func readResults(name string) ([]result, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	defer f.Close()
	var rs []result
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s, line %d: expected a JSON result: %w", name, n, err)
		}
		rs = append(rs, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("results %s: %w", name, err)
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("%s: no results", name)
	}
	return rs, nil
}

// column is one system's figures: medians over its runs.
type column struct {
	label                            string
	mode                             string    // result.Mode of the first run
	runs                             []float64 // msgs/s of each run, in run order
	perSec, secs, accept, cpu        float64
	srv, srvSys                      float64 // server CPU seconds: all, in the kernel
	rss, pss                         float64 // MiB
	procs                            int
	messages, sessions, boxes, bytes int
}

func summarize(rs []result) (map[string]*column, []string) {
	cols := map[string]*column{}
	var order []string
	by := map[string][]result{}
	for _, r := range rs {
		if _, ok := cols[r.System]; !ok {
			cols[r.System] = &column{label: r.Label}
			order = append(order, r.System)
		}
		by[r.System] = append(by[r.System], r)
	}
	for sys, list := range by {
		c := cols[sys]
		pick := func(f func(result) float64) float64 {
			v := make([]float64, len(list))
			for i, r := range list {
				v[i] = f(r)
			}
			return median(v)
		}
		for _, r := range list {
			c.runs = append(c.runs, r.PerSecond)
			c.procs = max(c.procs, r.MaxProcs)
		}
		c.perSec = pick(func(r result) float64 { return r.PerSecond })
		c.secs = pick(func(r result) float64 { return r.Seconds })
		c.accept = pick(func(r result) float64 { return r.AcceptSeconds })
		c.cpu = pick(func(r result) float64 { return r.CPUBusy })
		c.srv = pick(func(r result) float64 { return r.ServerCPU })
		c.srvSys = pick(func(r result) float64 { return r.ServerSys })
		c.rss = pick(func(r result) float64 { return float64(r.PeakRSSKiB) / 1024 })
		c.pss = pick(func(r result) float64 { return float64(r.PeakPSSKiB) / 1024 })
		c.mode = list[0].Mode
		c.messages, c.sessions, c.boxes, c.bytes = list[0].Messages, list[0].Sessions, list[0].Mailboxes, list[0].Size
	}
	return cols, order
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func writeTable(w io.Writer, rs []result, ratio string) error {
	cols, order := summarize(rs)
	var num, den *column
	if ratio != "" {
		a, b, ok := strings.Cut(ratio, "/")
		num, den = cols[a], cols[b]
		if !ok || num == nil || den == nil {
			return fmt.Errorf("-ratio %q: want SYSTEM_A/SYSTEM_B, both in the results (have %s)", ratio, strings.Join(order, ", "))
		}
	}

	var b strings.Builder
	b.WriteString("| |")
	for _, s := range order {
		fmt.Fprintf(&b, " %s |", cols[s].label)
	}
	if num != nil {
		fmt.Fprintf(&b, " %s / %s |", num.label, den.label)
	}
	b.WriteString("\n|---|")
	for range order {
		b.WriteString("---|")
	}
	if num != nil {
		b.WriteString("---|")
	}
	b.WriteString("\n")

	first := cols[order[0]]
	row := func(name string, cell func(c *column) string, ratio func(a, b *column) string) {
		fmt.Fprintf(&b, "| %s |", name)
		for _, s := range order {
			fmt.Fprintf(&b, " %s |", cell(cols[s]))
		}
		if num != nil {
			r := ""
			if ratio != nil {
				r = ratio(num, den)
			}
			fmt.Fprintf(&b, " %s |", r)
		}
		b.WriteString("\n")
	}
	times := func(x, y float64) string {
		if y == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f×", x/y)
	}
	row("messages/s, median (each run)", func(c *column) string {
		each := make([]string, len(c.runs))
		for i, v := range c.runs {
			each[i] = fmt.Sprintf("%.0f", v)
		}
		return fmt.Sprintf("**%.0f** (%s)", c.perSec, strings.Join(each, ", "))
	}, func(a, b *column) string { return "**" + times(a.perSec, b.perSec) + "**" })
	arrived := "are in the Maildirs"
	if first.mode == "relay" {
		arrived = "reached smtp-sink"
	}
	row(fmt.Sprintf("time until all %s messages %s", thousands(first.messages), arrived),
		func(c *column) string { return fmt.Sprintf("%.2f s", c.secs) },
		func(a, b *column) string { return times(a.secs, b.secs) })
	row("time until smtp-source got every 250",
		func(c *column) string { return fmt.Sprintf("%.2f s", c.accept) },
		func(a, b *column) string { return times(a.accept, b.accept) })
	row("peak RSS of the server (sum over its processes)", func(c *column) string {
		procs := "1 process"
		if c.procs > 1 {
			procs = fmt.Sprintf("up to %d processes", c.procs)
		}
		return fmt.Sprintf("%.0f MiB (%s)", c.rss, procs)
	}, func(a, b *column) string { return times(a.rss, b.rss) })
	row("peak PSS of the server (shared pages split)",
		func(c *column) string { return fmt.Sprintf("%.0f MiB", c.pss) },
		func(a, b *column) string { return times(a.pss, b.pss) })
	row("server CPU time (user+system), median",
		func(c *column) string {
			return fmt.Sprintf("%.2f s (%.0f µs/message, %.0f%% in the kernel)", c.srv,
				1e6*c.srv/float64(max(c.messages, 1)), 100*c.srvSys/max(c.srv, 1e-9))
		},
		func(a, b *column) string { return times(a.srv, b.srv) })
	row("CPU busy during the run (whole machine)",
		func(c *column) string { return fmt.Sprintf("%.0f%%", 100*c.cpu) }, nil)
	_, err := io.WriteString(w, b.String())
	return err
}

// thousands formats n with comma separators, as the docs write numbers.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
