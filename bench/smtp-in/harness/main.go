package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: harness port | run [flags] | table [-ratio A/B] FILE")
		return 2
	}
	var err error
	switch args[0] {
	case "port":
		err = freePort(stdout)
	case "run":
		err = runCmd(ctx, args[1:], stdout, stderr)
	case "table":
		err = tableCmd(args[1:], stdout)
	default:
		err = fmt.Errorf("unknown command %q", args[0])
	}
	if err != nil {
		fmt.Fprintf(stderr, "harness %s: fatal: %v\n", args[0], err)
		return 1
	}
	return 0
}

// freePort prints a TCP port on 127.0.0.1 that nobody listens on now. The
// caller binds it a moment later; on a test machine the race is harmless.
func freePort(w io.Writer) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	_, err = fmt.Fprintln(w, l.Addr().(*net.TCPAddr).Port)
	return err
}

// result is one measured run, one JSON line in the results file.
type result struct {
	System        string  `json:"system"`
	Label         string  `json:"label"`
	Run           int     `json:"run"`
	Messages      int     `json:"messages"`
	Sessions      int     `json:"sessions"`
	Mailboxes     int     `json:"mailboxes"`
	Size          int     `json:"size"`
	Seconds       float64 `json:"seconds"`        // start to last file in the Maildirs
	AcceptSeconds float64 `json:"accept_seconds"` // start to the last smtp-source exiting
	Mode          string  `json:"mode,omitempty"` // "relay" when counted at a sink, else Maildir delivery
	PerSecond     float64 `json:"msgs_per_sec"`
	PeakRSSKiB    int64   `json:"peak_rss_kib"`
	PeakPSSKiB    int64   `json:"peak_pss_kib"`
	MaxProcs      int     `json:"max_procs"`
	CPUBusy       float64 `json:"cpu_busy"`   // fraction of all CPUs busy during the run, whole machine
	ServerCPU     float64 `json:"server_cpu"` // CPU seconds (user+system) of the server's processes during the run
	ServerSys     float64 `json:"server_sys"` // the system (kernel) part of ServerCPU
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		l       load
		system  = fs.String("system", "", "system name in the results (postfix, mailhorn)")
		label   = fs.String("label", "", "system label for the table (default: -system)")
		run     = fs.Int("run", 1, "run number")
		pid     = fs.Int("pid", 0, "root process of the server")
		pidfile = fs.String("pidfile", "", "file holding the root process ID (instead of -pid)")
		results = fs.String("results", "", "append the JSON result line to this file")
		sample  = fs.Duration("sample", 200*time.Millisecond, "memory sampling interval")
		poll    = fs.Duration("poll", 25*time.Millisecond, "Maildir polling interval")
		timeout = fs.Duration("timeout", 10*time.Minute, "give up after this long")
		ready   = fs.Duration("ready", 30*time.Second, "wait this long for the server's greeting")
	)
	fs.StringVar(&l.addr, "addr", "", "server address HOST:PORT")
	fs.StringVar(&l.mailbase, "mailbase", "", "directory holding one Maildir per mailbox")
	fs.IntVar(&l.messages, "messages", 5000, "messages to send")
	fs.IntVar(&l.sessions, "sessions", 16, "parallel SMTP sessions (one smtp-source process each)")
	fs.IntVar(&l.mailboxes, "mailboxes", 10, "mailboxes user1..userN")
	fs.IntVar(&l.size, "size", 4096, "message body length in bytes (smtp-source -l)")
	fs.StringVar(&l.domain, "domain", "bench.test", "recipient domain")
	fs.StringVar(&l.sender, "sender", "sender@bench.example", "envelope sender")
	fs.StringVar(&l.smtpSource, "smtp-source", "/usr/sbin/smtp-source", "smtp-source program")
	fs.DurationVar(&l.settle, "settle", time.Second, "wait this long after the last delivery before checking for extra files")
	fs.DurationVar(&l.stall, "stall", time.Minute, "give up when every message was accepted but none arrived for this long")
	sinkAddr := fs.String("sink", "", "relay mode: start smtp-sink on this HOST:PORT and stop the clock when it has received every message (instead of -mailbase)")
	smtpSink := fs.String("smtp-sink", "/usr/sbin/smtp-sink", "smtp-sink program (relay mode)")
	sinkUser := fs.String("sink-user", "nobody", "smtp-sink -u: the account it runs as (relay mode; empty: no -u)")
	fs.BoolVar(&l.keepOpen, "d", true, "keep each session open for all its messages (smtp-source -d)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if l.addr == "" || (l.mailbase == "" && *sinkAddr == "") || *system == "" {
		return errors.New("-addr, -mailbase (or -sink) and -system are required")
	}
	if l.messages < 1 || l.sessions < 1 || l.mailboxes < 1 || l.size < 1 {
		return errors.New("-messages, -sessions, -mailboxes and -size must be positive")
	}
	if *label == "" {
		*label = *system
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	mode := ""
	if *sinkAddr != "" {
		s, err := startSink(ctx, *smtpSink, *sinkAddr, *sinkUser)
		if err != nil {
			return err
		}
		defer s.stop()
		l.sink, mode = s, "relay"
	}
	if err := waitGreeting(ctx, l.addr, *ready); err != nil {
		return err
	}
	root := *pid
	if *pidfile != "" {
		var err error
		if root, err = readPidfile(*pidfile); err != nil {
			return err
		}
	}
	if root <= 0 {
		return errors.New("-pid or -pidfile is required")
	}

	sampler := newSampler(root)
	stopSampling := sampler.start(ctx, *sample)
	cpu0, err := readCPU()
	if err != nil {
		return err
	}
	server0 := treeCPU(root)
	m, err := l.run(ctx, *poll)
	if err != nil {
		stopSampling()
		return fmt.Errorf("%s run %d: %w", *system, *run, err)
	}
	server := treeCPU(root).since(server0)
	cpu1, err := readCPU()
	if err != nil {
		return err
	}
	mem := stopSampling()
	if err := l.check(ctx); err != nil {
		return fmt.Errorf("%s run %d: %w", *system, *run, err)
	}

	r := result{
		System: *system, Label: *label, Run: *run,
		Messages: l.messages, Sessions: l.sessions, Mailboxes: l.mailboxes, Size: l.size,
		Mode:          mode,
		Seconds:       m.done.Seconds(),
		AcceptSeconds: m.accepted.Seconds(),
		PerSecond:     float64(l.messages) / m.done.Seconds(),
		PeakRSSKiB:    mem.peakRSS,
		PeakPSSKiB:    mem.peakPSS,
		MaxProcs:      mem.maxProcs,
		CPUBusy:       cpu1.busySince(cpu0),
		ServerCPU:     server.user + server.sys,
		ServerSys:     server.sys,
	}
	fmt.Fprintf(stdout, "%-8s run %d: %d messages in %.2f s (all accepted after %.2f s): %.0f msg/s, peak RSS %.1f MiB, peak PSS %.1f MiB, %d processes at most, server CPU %.2f s (%.0f µs/msg, %.0f%% kernel), machine %.0f%% busy\n",
		r.System, r.Run, r.Messages, r.Seconds, r.AcceptSeconds, r.PerSecond,
		float64(r.PeakRSSKiB)/1024, float64(r.PeakPSSKiB)/1024, r.MaxProcs,
		r.ServerCPU, 1e6*r.ServerCPU/float64(r.Messages), 100*r.ServerSys/max(r.ServerCPU, 1e-9), 100*r.CPUBusy)
	if *results == "" {
		return nil
	}
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(*results, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("results %s: %w", *results, err)
	}
	return f.Close()
}
