package local

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"mailhorn/internal/address"
	"mailhorn/internal/deliver"
	"mailhorn/internal/store"
)

// readError marks a failure to read the queue file, as opposed to a
// failure to write the mailbox.
type readError struct{ err error }

func (e readError) Error() string { return e.err.Error() }
func (e readError) Unwrap() error { return e.err }

// fromLine is the mbox message separator Postfix writes: "From SENDER  DATE"
// with two spaces and the date in asctime(3) form, MAILER-DAEMON for the
// null sender.
func fromLine(sender string, now time.Time) string {
	s := "MAILER-DAEMON"
	if sender != "" {
		s = address.FromInternal(sender).String()
	}
	return "From " + s + "  " + now.Format("Mon Jan _2 15:04:05 2006") + "\n"
}

var fromPrefix = []byte("From ")

// writeMbox writes one message in mbox form: the From_ line, the prefix
// headers, the content with every line that starts with "From " quoted as
// ">From " (mboxo, as Postfix's mail_copy: a line already starting with
// ">From " is left alone), a newline if the content did not end with one,
// and the empty line that ends the message. Errors reading body are
// readError.
func writeMbox(w io.Writer, from string, prefix []byte, body io.Reader) error {
	if _, err := io.WriteString(w, from); err != nil {
		return err
	}
	// The prefix is ours (Return-Path, Delivered-To): it needs no quoting.
	if _, err := w.Write(prefix); err != nil {
		return err
	}
	br := bufio.NewReaderSize(body, 64<<10)
	atStart := true
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			// A line cut by the buffer is longer than "From ", so the test
			// at its start sees enough of it.
			if atStart && bytes.HasPrefix(line, fromPrefix) {
				if _, werr := w.Write([]byte{'>'}); werr != nil {
					return werr
				}
			}
			if _, werr := w.Write(line); werr != nil {
				return werr
			}
			atStart = line[len(line)-1] == '\n'
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return readError{err}
		}
	}
	end := "\n"
	if !atStart {
		end = "\n\n"
	}
	_, err := io.WriteString(w, end)
	return err
}

// limitWriter fails with EFBIG, as the kernel does past a file size limit
// (Postfix enforces mailbox_size_limit with setrlimit), when a write would
// go past n bytes.
type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		return 0, syscall.EFBIG
	}
	n, err := l.w.Write(p)
	l.n -= int64(n)
	return n, err
}

// countReader counts the bytes read, to detect a short queue file.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// openMbox opens (or creates, mode 0600, given to owner when set) a
// mailbox file for appending, refusing what Postfix's safe_open refuses: a
// symbolic link, a file with several hard links, a file replaced between
// the check and the open.
func openMbox(path string, owner *store.Owner) (*os.File, os.FileInfo, error) {
	for range 2 {
		before, err := os.Lstat(path)
		if errors.Is(err, os.ErrNotExist) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
			if errors.Is(err, os.ErrExist) {
				continue // created meanwhile: open it as an existing file
			}
			if err != nil {
				return nil, nil, fmt.Errorf("cannot create file %s: %w", path, err)
			}
			if owner != nil {
				if err := f.Chown(owner.UID, owner.GID); err != nil {
					f.Close()
					os.Remove(path)
					return nil, nil, fmt.Errorf("cannot change ownership of file %s: %w", path, err)
				}
			}
			fi, err := f.Stat()
			if err != nil {
				f.Close()
				return nil, nil, err
			}
			return f, fi, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("cannot open file %s: %w", path, err)
		}
		if before.Mode()&os.ModeSymlink != 0 {
			return nil, nil, fmt.Errorf("cannot open file %s: file is a symbolic link", path)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot open file %s: %w", path, err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		if !os.SameFile(before, fi) {
			f.Close()
			return nil, nil, fmt.Errorf("cannot open file %s: file status changed unexpectedly: %w", path, syscall.EAGAIN)
		}
		if n := nlink(fi); fi.Mode().IsRegular() && n != 1 {
			f.Close()
			return nil, nil, fmt.Errorf("cannot open file %s: file has %d hard links", path, n)
		}
		return f, fi, nil
	}
	return nil, nil, fmt.Errorf("cannot open file %s: file status changed unexpectedly: %w", path, syscall.EAGAIN)
}

func nlink(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

func fileUID(fi os.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

// deliverMbox appends the message to a UNIX mailbox file, locked against
// mail readers and other deliveries. A failed write truncates the file back
// to its size before the delivery, so the mailbox never holds half a
// message.
func (a *Agent) deliverMbox(ctx context.Context, req *deliver.Request, path string, u User, prefix []byte) deliver.Result {
	fail := func(dsn string, err error) deliver.Result {
		return deliver.Resultf(deliver.StatusOf(dsn), dsn, "cannot update mailbox %s for user %s. %v", path, u.Name, err)
	}
	f, fi, err := openMbox(path, a.owner(u))
	if err != nil {
		return fail(deliver.WriteDSN(err, "5.2.0"), err)
	}
	defer f.Close()
	if !fi.Mode().IsRegular() {
		return fail("5.2.0", fmt.Errorf("destination %s is not a regular file", path))
	}
	if a.StrictOwnership && fileUID(fi) != u.UID {
		a.warn("specify \"strict_mailbox_ownership = no\" to ignore mailbox ownership mismatch")
		return fail("4.2.0", fmt.Errorf("destination %s is not owned by recipient", path))
	}
	if a.Lock.Dotlock {
		lock, err := dotlock(ctx, path, a.Lock, a.now)
		if err != nil {
			return fail(deliver.WriteDSN(err, "5.2.0"), err)
		}
		defer os.Remove(lock)
	}
	if a.Lock.Fcntl {
		if err := fcntlLock(ctx, f, a.Lock); err != nil {
			return fail(deliver.WriteDSN(err, "5.2.0"), err)
		}
	}
	// A mail reader may have replaced the file while we waited for the
	// lock (GNU pop3d writes a new file and renames it).
	if cur, err := os.Lstat(path); err != nil || !os.SameFile(cur, fi) {
		return fail("4.2.0", errors.New("target file status changed unexpectedly"))
	}
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fail("4.3.0", fmt.Errorf("error writing message: %w", err))
	}
	qf, body, err := req.OpenContent()
	if err != nil {
		return deliver.Resultf(deliver.Deferred, "4.3.0", "cannot read the queue file: %v", err)
	}
	defer qf.Close()
	if err := a.appendMbox(f, end, req, prefix, body); err != nil {
		var re readError
		if errors.As(err, &re) {
			return fail("4.3.0", fmt.Errorf("error reading message: %w", err))
		}
		return fail(deliver.WriteDSN(err, "4.3.0"), fmt.Errorf("error writing message: %w", err))
	}
	if a.Biff != nil {
		a.Biff(u.Name, end)
	}
	return deliver.Resultf(deliver.Sent, "2.0.0", "delivered to mailbox")
}

// appendMbox writes the message at the end of f (whose size is end) and
// makes it durable, or truncates f back to end.
func (a *Agent) appendMbox(f *os.File, end int64, req *deliver.Request, prefix []byte, body io.Reader) error {
	var w io.Writer = f
	if a.wrapMbox != nil {
		w = a.wrapMbox(f)
	}
	if a.SizeLimit > 0 {
		w = &limitWriter{w: w, n: a.SizeLimit - end}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	cr := &countReader{r: body}
	err := writeMbox(bw, fromLine(req.Sender, a.now()), prefix, cr)
	if err == nil && cr.n != req.ContentSize {
		err = readError{store.ErrShortContent}
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		if terr := f.Truncate(end); terr != nil {
			a.warn("cannot truncate mailbox %s back to %d bytes after a failed delivery: %v", f.Name(), end, terr)
		} else {
			f.Sync()
		}
		return err
	}
	return nil
}
