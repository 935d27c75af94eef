package privsep

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"mailhorn/internal/deliver"
	"mailhorn/internal/store"
)

// executor performs requests with the rights of the current process.
type executor struct {
	// wrap, when set, wraps the writer of mbox deliveries (tests inject
	// write failures with it).
	wrap func(io.Writer) io.Writer
	now  func() time.Time
	// maildirs writes Maildir files; nil: a new writer per delivery.
	maildirs *store.Writer
}

func (x *executor) time() time.Time {
	if x.now != nil {
		return x.now()
	}
	return time.Now()
}

// execute performs req here, as this process.
func (x *executor) execute(ctx context.Context, req *Request) Result {
	if err := ctx.Err(); err != nil {
		return Resultf(deliver.Deferred, "4.3.0", "delivery interrupted: %v", err)
	}
	switch req.Op {
	case OpMbox:
		return x.mbox(ctx, req)
	case OpMaildir:
		return x.maildir(ctx, req)
	case OpCommand:
		return runCommand(ctx, req)
	case OpRead:
		return x.read(req)
	}
	return Resultf(deliver.Deferred, "4.3.5", "mail system configuration error: unknown delivery operation %q", req.Op)
}

func (x *executor) maildir(ctx context.Context, req *Request) Result {
	fail := func(what string, err error) Result {
		// As Postfix's mbox_dsn, except that an error of no known kind is
		// deferred: a delivery that failed on an I/O error is worth
		// another try.
		dsn := deliver.WriteDSN(err, "4.2.0")
		return Resultf(deliver.StatusOf(dsn), dsn, "maildir delivery failed: %s: %v", what, err)
	}
	if req.SizeLimit > 0 && int64(len(req.Copy.Prefix))+req.Size > req.SizeLimit {
		return fail("error writing message", syscall.EFBIG)
	}
	dir := store.Maildir(req.Path)
	if err := dir.InitOwned(0o700, nil); err != nil {
		return fail("create maildir file", err)
	}
	w := x.maildirs
	if w == nil {
		w = store.NewWriter(req.Hostname)
	}
	if _, err := w.Deliver(ctx, dir, store.Content{Prefix: req.Copy.Prefix, Body: req.Content, Size: req.Size}); err != nil {
		if errors.Is(err, store.ErrShortContent) {
			return Resultf(deliver.Deferred, "4.3.0", "maildir delivery failed: error reading message: %v", err)
		}
		return fail("error writing message", err)
	}
	if req.Source != SourceMailbox {
		return Resultf(deliver.Sent, "2.0.0", "delivered to maildir: %s", req.Path)
	}
	return Resultf(deliver.Sent, "2.0.0", "delivered to maildir")
}

// openMbox opens (or creates, mode 0600) a mailbox file for appending,
// refusing what Postfix's safe_open refuses: a symbolic link, a file with
// several hard links, a file replaced between the check and the open.
func openMbox(path string) (*os.File, os.FileInfo, error) {
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

// mbox appends the message to a UNIX mailbox file (a user's mailbox or a
// /file target), locked against mail readers and other deliveries. A
// failed write truncates the file back to its size before the delivery,
// so the file never holds half a message.
func (x *executor) mbox(ctx context.Context, req *Request) Result {
	path := req.Path
	fail := func(dsn string, err error) Result {
		if req.Source == SourceMailbox {
			return Resultf(deliver.StatusOf(dsn), dsn, "cannot update mailbox %s for user %s. %v", path, req.As.User, err)
		}
		return Resultf(deliver.StatusOf(dsn), dsn, "cannot append message to file %s: %v", path, err)
	}
	f, fi, err := openMbox(path)
	if err != nil {
		return fail(deliver.WriteDSN(err, "5.2.0"), err)
	}
	defer f.Close()
	regular := fi.Mode().IsRegular()
	if req.Source == SourceMailbox && !regular {
		return fail("5.2.0", fmt.Errorf("destination %s is not a regular file", path))
	}
	if req.StrictOwnership && fileUID(fi) != req.As.UID {
		return fail("4.2.0", fmt.Errorf("destination %s is not owned by recipient", path))
	}
	if regular && req.Lock.Dotlock {
		lock, err := dotlock(ctx, path, req.Lock, x.time)
		if err != nil {
			return fail(deliver.WriteDSN(err, "5.2.0"), err)
		}
		defer os.Remove(lock)
	}
	if regular && req.Lock.Fcntl {
		if err := fcntlLock(ctx, f, req.Lock); err != nil {
			return fail(deliver.WriteDSN(err, "5.2.0"), err)
		}
	}
	// A mail reader may have replaced the file while we waited for the
	// lock (GNU pop3d writes a new file and renames it).
	if cur, err := os.Lstat(path); err != nil || !os.SameFile(cur, fi) {
		return fail("4.2.0", errors.New("target file status changed unexpectedly"))
	}
	var end int64
	if regular {
		if end, err = f.Seek(0, io.SeekEnd); err != nil {
			return fail("4.3.0", fmt.Errorf("error writing message: %w", err))
		}
	}
	if err := x.appendMbox(f, regular, end, req); err != nil {
		var re readError
		if errors.As(err, &re) {
			return fail("4.3.0", fmt.Errorf("error reading message: %w", err))
		}
		return fail(deliver.WriteDSN(err, "4.3.0"), fmt.Errorf("error writing message: %w", err))
	}
	if req.Source == SourceMailbox {
		return Result{Status: deliver.Sent, DSN: "2.0.0", Text: "delivered to mailbox", Offset: end}
	}
	return Result{Status: deliver.Sent, DSN: "2.0.0", Text: "delivered to file: " + path, Offset: end}
}

// appendMbox writes the message at the end of f (whose size is end) and
// makes it durable, or truncates a regular f back to end.
func (x *executor) appendMbox(f *os.File, regular bool, end int64, req *Request) error {
	var w io.Writer = f
	if x.wrap != nil {
		w = x.wrap(f)
	}
	if req.SizeLimit > 0 && regular {
		w = &limitWriter{w: w, n: req.SizeLimit - end}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	cr := &countReader{r: req.Content}
	err := writeMessage(bw, req.Copy, cr)
	if err == nil && cr.n != req.Size {
		err = readError{store.ErrShortContent}
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil && regular {
		err = f.Sync()
	}
	if err != nil && regular {
		if terr := f.Truncate(end); terr == nil {
			f.Sync()
		} else {
			err = fmt.Errorf("%w (and cannot truncate back to %d bytes: %v)", err, end, terr)
		}
	}
	return err
}
