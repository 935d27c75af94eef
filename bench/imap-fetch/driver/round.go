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
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// The timed steps of a round, in order.
var stepNames = []string{"LOGIN+SELECT", "FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE INTERNALDATE)", "UID SEARCH HEADER Subject", "UID FETCH BODY.PEEK[] of every 10th message", "STORE 1:* +FLAGS.SILENT (\\Flagged)", "STORE 1:* -FLAGS.SILENT (\\Flagged)"}

// bodyEvery: the body step fetches the messages of sequence numbers
// bodyEvery, 2*bodyEvery, ... (1,000 of 10,000).
const bodyEvery = 10

// result is one round against one server: one JSON line of the results.
type result struct {
	System  string    `json:"system"`
	Label   string    `json:"label"`
	Kind    string    `json:"kind"` // cold or warm
	Round   int       `json:"round"`
	Seconds []float64 `json:"seconds"` // per stepNames
	// CPU is the server's CPU time per step (seconds, all threads of its
	// process tree; threads that exit during a step are missed).
	CPU []float64 `json:"cpu"`
	// What the server answered (checked against the manifest).
	Messages   int   `json:"messages"`
	Bytes      int64 `json:"bytes"`
	SearchHits int   `json:"search_hits"`
	Bodies     int   `json:"bodies"`
	BodyBytes  int64 `json:"body_bytes"`
	// Memory of the server's process tree before LOGOUT.
	Memory treeMemory `json:"memory"`
}

func runCmd(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var r result
	fs.StringVar(&r.System, "system", "", "the server's short name (dovecot, mailhorn)")
	fs.StringVar(&r.Label, "label", "", "the server's name in the table (default: -system)")
	fs.StringVar(&r.Kind, "kind", "warm", "cold (first round on a fresh tree) or warm")
	fs.IntVar(&r.Round, "round", 1, "round number")
	addr := fs.String("addr", "", "the server's IMAP address HOST:PORT")
	user := fs.String("user", "bench", "user name")
	pass := fs.String("password", "", "password")
	manifestFile := fs.String("manifest", "", "the manifest written by gen")
	resultsFile := fs.String("results", "", "append the result (JSON line) here")
	pid := fs.Int("pid", 0, "PID of the server's root process")
	pidfile := fs.String("pidfile", "", "file holding the PID of the server's root process")
	serving := fs.String("serving", "", "name of the processes that serve the session (empty: every process of the tree)")
	wait := fs.Duration("wait", 20*time.Second, "how long to wait for the server to accept connections")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if r.System == "" || *addr == "" || *manifestFile == "" || *resultsFile == "" || (*pid == 0) == (*pidfile == "") {
		return errors.New("run needs -system, -addr, -manifest, -results and one of -pid, -pidfile")
	}
	if r.Label == "" {
		r.Label = r.System
	}
	if r.Kind != "cold" && r.Kind != "warm" {
		return fmt.Errorf("-kind %q: want cold or warm", r.Kind)
	}
	b, err := os.ReadFile(*manifestFile)
	if err != nil {
		return err
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("read manifest %s: %w", *manifestFile, err)
	}
	if *pidfile != "" {
		b, err := os.ReadFile(*pidfile)
		if err != nil {
			return err
		}
		if *pid, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
			return fmt.Errorf("read %s: %w", *pidfile, err)
		}
	}
	if err := waitListening(ctx, *addr, *wait); err != nil {
		return err
	}
	srv := server{
		memory: func() (treeMemory, error) { return readTree("/proc", *pid, *serving) },
		cpu:    func() cpuSnapshot { return readCPU("/proc", *pid) },
	}
	if err := round(ctx, &r, &m, *addr, *user, *pass, srv); err != nil {
		return fmt.Errorf("%s %s round %d: %w", r.System, r.Kind, r.Round, err)
	}
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(*resultsFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	fmt.Fprintf(stderr, "%-8s %s round %d:", r.System, r.Kind, r.Round)
	for _, s := range r.Seconds {
		fmt.Fprintf(stderr, " %7.1f", s*1000)
	}
	fmt.Fprintf(stderr, " ms (server CPU")
	for _, s := range r.CPU {
		fmt.Fprintf(stderr, " %.1f", s*1000)
	}
	fmt.Fprintf(stderr, "); peak RSS %d MiB (%d serving processes), tree %d MiB\n", r.Memory.ServingKiB/1024, r.Memory.Serving, r.Memory.TreeKiB/1024)
	return f.Close()
}

// waitListening waits until addr accepts TCP connections (a server just
// started).
func waitListening(ctx context.Context, addr string, patience time.Duration) error {
	deadline := time.Now().Add(patience)
	for {
		c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not accept connections after %v: %w", addr, patience, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// server reads the server's processes.
type server struct {
	memory func() (treeMemory, error)
	cpu    func() cpuSnapshot
}

// round runs the timed steps over one connection and checks each answer
// against the manifest; memory is read before LOGOUT.
func round(ctx context.Context, r *result, m *manifest, addr, user, pass string, srv server) error {
	conn, err := (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	c := imapclient.New(conn, nil)
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.WaitGreeting(); err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	// timed runs one step; the server's CPU is read around it, outside
	// the clock.
	timed := func(f func() error) error {
		before := srv.cpu()
		start := time.Now()
		err := f()
		r.Seconds = append(r.Seconds, time.Since(start).Seconds())
		r.CPU = append(r.CPU, float64(srv.cpu().since(before))/1e9)
		return err
	}

	// LOGIN + SELECT INBOX.
	var sel *imap.SelectData
	if err := timed(func() error {
		if err := c.Login(user, pass).Wait(); err != nil {
			return fmt.Errorf("LOGIN: %w", err)
		}
		sel, err = c.Select("INBOX", nil).Wait()
		if err != nil {
			return fmt.Errorf("SELECT: %w", err)
		}
		return nil
	}); err != nil {
		return err
	}
	if int(sel.NumMessages) != m.Messages {
		return fmt.Errorf("SELECT: %d messages, want %d", sel.NumMessages, m.Messages)
	}

	// FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE INTERNALDATE).
	var msgs []*imapclient.FetchMessageBuffer
	all := imap.SeqSet{{Start: 1, Stop: 0}}
	if err := timed(func() error {
		msgs, err = c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true, Envelope: true, RFC822Size: true, InternalDate: true}).Collect()
		return err
	}); err != nil {
		return fmt.Errorf("FETCH 1:*: %w", err)
	}
	if err := checkFetch(r, m, msgs); err != nil {
		return fmt.Errorf("FETCH 1:*: %w", err)
	}

	// UID SEARCH HEADER Subject WORD.
	var found *imap.SearchData
	if err := timed(func() error {
		found, err = c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: m.SearchWord}}}, nil).Wait()
		return err
	}); err != nil {
		return fmt.Errorf("UID SEARCH: %w", err)
	}
	r.SearchHits = len(found.AllUIDs())
	if r.SearchHits != m.SearchHits {
		return fmt.Errorf("UID SEARCH HEADER Subject %s: %d hits, want %d", m.SearchWord, r.SearchHits, m.SearchHits)
	}

	// UID FETCH of BODY.PEEK[] for every bodyEvery-th message.
	var uids imap.UIDSet
	want := map[imap.UID]int64{}
	for i := bodyEvery - 1; i < len(msgs); i += bodyEvery {
		uids.AddNum(msgs[i].UID)
		want[msgs[i].UID] = msgs[i].RFC822Size
	}
	var bodies []*imapclient.FetchMessageBuffer
	if err := timed(func() error {
		bodies, err = c.Fetch(uids, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		return err
	}); err != nil {
		return fmt.Errorf("UID FETCH BODY.PEEK[]: %w", err)
	}
	for _, b := range bodies {
		size, ok := want[b.UID]
		if !ok || len(b.BodySection) != 1 {
			return fmt.Errorf("UID FETCH BODY.PEEK[]: unexpected answer for UID %d", b.UID)
		}
		if n := int64(len(b.BodySection[0].Bytes)); n != size {
			return fmt.Errorf("UID FETCH BODY.PEEK[]: UID %d has %d bytes, RFC822.SIZE said %d", b.UID, n, size)
		}
		delete(want, b.UID)
		r.Bodies++
		r.BodyBytes += size
	}
	if len(want) != 0 {
		return fmt.Errorf("UID FETCH BODY.PEEK[]: %d messages missing", len(want))
	}

	// STORE 1:* +FLAGS.SILENT (\Flagged), then -FLAGS to restore.
	for _, op := range []imap.StoreFlagsOp{imap.StoreFlagsAdd, imap.StoreFlagsDel} {
		if err := timed(func() error {
			return c.Store(all, &imap.StoreFlags{Op: op, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close()
		}); err != nil {
			return fmt.Errorf("STORE: %w", err)
		}
		flagged, err := c.Search(&imap.SearchCriteria{Flag: []imap.Flag{imap.FlagFlagged}}, nil).Wait()
		if err != nil {
			return fmt.Errorf("SEARCH FLAGGED: %w", err)
		}
		n, wantN := len(flagged.AllSeqNums()), 0
		if op == imap.StoreFlagsAdd {
			wantN = m.Messages
		}
		if n != wantN {
			return fmt.Errorf("after STORE: %d messages \\Flagged, want %d", n, wantN)
		}
	}

	if r.Memory, err = srv.memory(); err != nil {
		return err
	}
	if err := c.Logout().Wait(); err != nil {
		return fmt.Errorf("LOGOUT: %w", err)
	}
	return nil
}

// checkFetch checks the FETCH 1:* answer: every message once, the sizes,
// the flags and the envelopes of the manifest.
func checkFetch(r *result, m *manifest, msgs []*imapclient.FetchMessageBuffer) error {
	if len(msgs) != m.Messages {
		return fmt.Errorf("%d messages, want %d", len(msgs), m.Messages)
	}
	seen, answered := 0, 0
	uids := map[imap.UID]bool{}
	keys := make([]envelopeKey, 0, len(msgs))
	for _, msg := range msgs {
		if msg.UID == 0 || uids[msg.UID] {
			return fmt.Errorf("message %d: UID %d missing or repeated", msg.SeqNum, msg.UID)
		}
		uids[msg.UID] = true
		if msg.Envelope == nil || msg.InternalDate.IsZero() {
			return fmt.Errorf("message %d: no ENVELOPE or INTERNALDATE", msg.SeqNum)
		}
		keys = append(keys, envelopeKey{msg.Envelope.MessageID, msg.Envelope.Subject})
		r.Bytes += msg.RFC822Size
		for _, f := range msg.Flags {
			switch f {
			case imap.FlagSeen:
				seen++
			case imap.FlagAnswered:
				answered++
			}
		}
	}
	r.Messages = len(msgs)
	if r.Bytes != m.Bytes {
		return fmt.Errorf("RFC822.SIZE sum %d, want %d", r.Bytes, m.Bytes)
	}
	if seen != m.Seen || answered != m.Answered {
		return fmt.Errorf("%d \\Seen and %d \\Answered, want %d and %d", seen, answered, m.Seen, m.Answered)
	}
	if d := envelopeDigest(keys); d != m.Envelopes {
		return fmt.Errorf("ENVELOPE Message-IDs and subjects differ from the generated ones (digest %s, want %s)", d, m.Envelopes)
	}
	return nil
}
