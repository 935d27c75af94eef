package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"mailhorn/internal/cleanup"
	"mailhorn/internal/queue"
)

// runCat is mailhorn cat, Postfix's postcat(1): print a queue file's
// envelope, headers and body. It only reads, so it is safe while the
// system runs.
func runCat(ctx context.Context, e *env, args []string) int {
	const prog = "postcat"
	flags := flag.NewFlagSet("cat", flag.ContinueOnError)
	flags.SetOutput(e.stderr)
	confDir := flags.String("c", "", "configuration directory")
	var o catOptions
	flags.BoolVar(&o.env, "e", false, "show the envelope records")
	flags.BoolVar(&o.head, "h", false, "show the message headers")
	flags.BoolVar(&o.body, "b", false, "show the message body")
	flags.BoolVar(&o.offsets, "o", false, "show the file offset of each record")
	search := flags.Bool("q", false, "the arguments are queue IDs: look for them in the queue")
	flags.Bool("v", false, "verbose (ignored)")
	flags.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: mailhorn cat [-c DIR] [-b (body text)] [-e (envelope records)] [-h (header text)] [-o (offsets)] [-q (access queue)] [file(s)...]")
	}
	if err := flags.Parse(args); err != nil || (*search && flags.NArg() == 0) {
		flags.Usage()
		return exUsage
	}
	if !o.env && !o.head && !o.body {
		o.env, o.head, o.body = true, true, true
	}
	fatal := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, prog+": fatal: "+format+"\n", a...)
		return 1
	}
	out := bufio.NewWriter(e.stdout)
	defer out.Flush()

	if flags.NArg() == 0 {
		data, err := io.ReadAll(e.stdin)
		if err != nil {
			return fatal("read standard input: %v", err)
		}
		if err := catFile(out, "/dev/stdin", bytes.NewReader(data), int64(len(data)), o); err != nil {
			return fatal("%v", err)
		}
		return 0
	}
	var qdir string
	if *search {
		qe, err := loadQueueEnv(e, *confDir, prog)
		if err != nil {
			return fatal("%v", err)
		}
		qdir = qe.qdir
	}
	code := 0
	for _, arg := range flags.Args() {
		path, shown := arg, arg
		if *search {
			var err error
			if path, shown, err = findQueueFile(qdir, arg); err != nil {
				fmt.Fprintf(e.stderr, "%s: fatal: open queue file %s: %v\n", prog, arg, err)
				code = 1
				continue
			}
		}
		if err := catPath(out, path, shown, o); err != nil {
			out.Flush()
			fmt.Fprintf(e.stderr, "%s: fatal: %v\n", prog, err)
			code = 1
		}
	}
	return code
}

// findQueueFile looks for a queue ID in incoming, deferred, hold and
// corrupt, and returns its path and the name postcat shows (relative to
// the queue directory).
func findQueueFile(qdir, id string) (string, string, error) {
	if !queue.ValidID(id) {
		return "", "", errors.New("invalid queue ID")
	}
	for _, name := range []string{queue.Incoming, queue.Deferred, queue.Hold} {
		rel := filepath.Join(name, queue.HashDir(id), id)
		if _, err := os.Lstat(filepath.Join(qdir, rel)); err == nil {
			return filepath.Join(qdir, rel), rel, nil
		}
	}
	rel := filepath.Join(queue.Corrupt, id)
	if _, err := os.Lstat(filepath.Join(qdir, rel)); err == nil {
		return filepath.Join(qdir, rel), rel, nil
	}
	return "", "", queue.ErrNotFound
}

func catPath(w *bufio.Writer, path, shown string, o catOptions) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	return catFile(w, shown, f, st.Size(), o)
}

type catOptions struct {
	env, head, body, offsets bool
}

// catFile prints one queue file as postcat does: the envelope records, the
// content (headers, then body), the records after the content, the end.
// Lines of the content are printed as they are.
func catFile(w *bufio.Writer, name string, r io.ReaderAt, size int64, o catOptions) error {
	f, err := queue.Decode(r, size)
	if err != nil {
		return fmt.Errorf("%s: input is not a valid queue file: %w", name, err)
	}
	// Record offsets follow from the format: magic, then T, S, A... in
	// order, then M and R records in file order, then E.
	recLen := func(payload int) int64 {
		return 1 + int64(binary.PutUvarint(make([]byte, binary.MaxVarintLen64), uint64(payload))) + int64(payload)
	}
	off := int64(4)
	line := func(at int64, format string, a ...any) {
		if !o.env {
			return
		}
		if o.offsets {
			if at >= 0 {
				fmt.Fprintf(w, "%9d ", at)
			} else {
				fmt.Fprintf(w, "%9s ", "-")
			}
		}
		fmt.Fprintf(w, format+"\n", a...)
	}
	marker := func(at int64, text string) { line(at, "*** %s %s ***", text, name) }
	if o.env {
		fmt.Fprintf(w, "*** ENVELOPE RECORDS %s ***\n", name)
	}
	line(-1, "message_size: %15d %15d %15d", f.ContentSize, f.ContentOffset, len(f.Recipients))
	arrival := fmt.Sprint(f.Arrival.UnixMicro())
	line(off, "message_arrival_time: %s", asctime(f.Arrival))
	off += recLen(len(arrival))
	line(off, "sender: %s", f.Sender)
	off += recLen(len(f.Sender))
	for _, a := range f.Attrs {
		line(off, "named_attribute: %s=%s", a.Name, a.Value)
		off += recLen(len(a.Name) + 1 + len(a.Value))
	}
	end := off
	recipient := func(rc queue.Recipient) {
		n := 2 + len(rc.Address) + 1 + len(rc.Original) + 1 + len(rc.ORCPT)
		at := rc.Offset() - (recLen(n) - int64(n))
		if rc.Original != "" {
			line(at, "original_recipient: %s", rc.Original)
		}
		if rc.ORCPT != "" {
			line(at, "dsn_orig_rcpt: %s", rc.ORCPT)
		}
		if rc.Notify != 0 {
			line(at, "dsn_notify: %d", rc.Notify)
		}
		what := "recipient"
		if rc.Status == queue.StatusDone {
			what = "done_recipient"
		}
		line(at, "%s: %s", what, rc.Address)
		end = max(end, rc.Offset()+int64(n))
	}
	var after []queue.Recipient
	for _, rc := range f.Recipients {
		if rc.Offset() < f.ContentOffset {
			recipient(rc)
		} else {
			after = append(after, rc)
		}
	}
	marker(f.ContentOffset-9, "MESSAGE CONTENTS")
	if o.head || o.body {
		if err := catContent(w, io.NewSectionReader(r, f.ContentOffset, f.ContentSize), o); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	end = max(end, f.ContentOffset+f.ContentSize)
	marker(-1, "HEADER EXTRACTED")
	for _, rc := range after {
		recipient(rc)
	}
	idx := make([]int, 0, len(f.Defers))
	for i := range f.Defers {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		d := f.Defers[i]
		line(-1, "delay_reason: %s: %s %s, relay=%s, attempt %s", f.Recipients[i].Address, d.DSN, d.Text, d.Relay, asctime(d.Time))
	}
	if !f.LastAttempt.IsZero() {
		line(-1, "deferred: last attempt %s, next after %s", asctime(f.LastAttempt), f.Backoff.Round(time.Second))
	}
	if f.DelayWarned {
		line(-1, "delay_warning: sent")
	}
	marker(end, "MESSAGE FILE END")
	return nil
}

// catContent prints the headers (-h) and the body (-b): the body starts
// at the first line that is neither a header nor a header's continuation.
func catContent(w *bufio.Writer, r io.Reader, o catOptions) error {
	br := bufio.NewReader(r)
	inHeader := true
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if inHeader {
				l := bytes.TrimSuffix(line, []byte("\n"))
				inHeader = cleanup.HeaderName(l) != "" || len(l) > 0 && (l[0] == ' ' || l[0] == '\t')
			}
			if inHeader && o.head || !inHeader && o.body {
				w.Write(line)
				if line[len(line)-1] != '\n' {
					w.WriteByte('\n')
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
