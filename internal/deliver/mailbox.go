package deliver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"mailhorn/internal/store"
)

// This file holds what the agents that write mailboxes (local, virtual)
// share: the per-recipient loop with its mail-loop check, the Maildir
// delivery and the mapping of write errors to RFC 3463 status codes.

// Resultf returns a Result with a formatted text.
func Resultf(st Status, dsn, format string, args ...any) Result {
	return Result{Status: st, DSN: dsn, Text: fmt.Sprintf(format, args...)}
}

// StatusOf is the outcome an RFC 3463 code stands for: 5.X.X bounces,
// anything else is tried again.
func StatusOf(dsn string) Status {
	if dsn != "" && dsn[0] == '5' {
		return Bounced
	}
	return Deferred
}

// defaultHeaderLimit is header_size_limit's default, for agents not told
// theirs.
const defaultHeaderLimit = 102400

// EachRecipient answers every recipient of req with one, each result
// labelled with the recipient's index and relay. Before one is asked, a
// cancelled ctx defers the recipient (4.3.0) and a recipient already named
// in a Delivered-To: header of the message bounces as a mail loop (5.4.6),
// as local(8) and virtual(8) do. headerLimit bounds the header read for
// that check (header_size_limit; 0: its default).
func EachRecipient(ctx context.Context, req *Request, relay string, headerLimit int64, one func(r Recipient) Result) []Result {
	seen, err := deliveredTo(req, headerLimit)
	if err != nil {
		return All(req, Deferred, "4.3.0", "cannot read the queue file: "+err.Error(), relay)
	}
	res := make([]Result, 0, len(req.Recipients))
	for _, r := range req.Recipients {
		var x Result
		switch {
		case ctx.Err() != nil:
			x = Resultf(Deferred, "4.3.0", "delivery interrupted: %v", ctx.Err())
		case seen[strings.ToLower(r.Address)]:
			x = Resultf(Bounced, "5.4.6", "mail forwarding loop for %s", r.Address)
		default:
			x = one(r)
		}
		x.Index, x.Relay = r.Index, relay
		res = append(res, x)
	}
	return res
}

func deliveredTo(req *Request, limit int64) (map[string]bool, error) {
	f, body, err := req.OpenContent()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if limit <= 0 {
		limit = defaultHeaderLimit
	}
	return store.DeliveredTo(body, limit)
}

// Maildir writes the content of req, after prefix (Return-Path:,
// Delivered-To:), into the Maildir dir, creating it (mode 0700, given to
// owner when set) on first delivery. A message larger than sizeLimit
// (when not 0) bounces, as Postfix's file size limit makes it.
func Maildir(ctx context.Context, w *store.Writer, req *Request, dir store.Maildir, owner *store.Owner, prefix []byte, sizeLimit int64) Result {
	if sizeLimit > 0 && int64(len(prefix))+req.ContentSize > sizeLimit {
		return Resultf(Bounced, "5.2.2", "maildir delivery failed: error writing message: %v", syscall.EFBIG)
	}
	if err := dir.InitOwned(0o700, owner); err != nil {
		return maildirFailure("create maildir file", err)
	}
	qf, body, err := req.OpenContent()
	if err != nil {
		return Resultf(Deferred, "4.3.0", "cannot read the queue file: %v", err)
	}
	defer qf.Close()
	if _, err := w.Deliver(ctx, dir, store.Content{Prefix: prefix, Body: body, Size: req.ContentSize, Owner: owner}); err != nil {
		if errors.Is(err, store.ErrShortContent) {
			return Resultf(Deferred, "4.3.0", "maildir delivery failed: error reading message: %v", err)
		}
		return maildirFailure("error writing message", err)
	}
	return Resultf(Sent, "2.0.0", "delivered to maildir")
}

// maildirFailure classifies a failed Maildir write like Postfix's mbox_dsn,
// except that an error of no known kind is deferred rather than bounced: a
// delivery that failed on an I/O error is worth another try.
func maildirFailure(what string, err error) Result {
	dsn := WriteDSN(err, "4.2.0")
	return Resultf(StatusOf(dsn), dsn, "maildir delivery failed: %s: %v", what, err)
}

// WriteDSN maps an error from writing a mailbox to a status the way
// Postfix's mbox_dsn does: try again for a busy lock or stale NFS handle
// (4.2.0), a full file system or an interrupted delivery (4.3.0); bounce
// for a full mailbox or quota (5.2.2); else def.
func WriteDSN(err error, def string) string {
	switch {
	case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.ESTALE), errors.Is(err, os.ErrExist):
		return "4.2.0"
	case errors.Is(err, syscall.ENOSPC):
		return "4.3.0"
	case errors.Is(err, syscall.EDQUOT), errors.Is(err, syscall.EFBIG):
		return "5.2.2"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "4.3.0"
	}
	return def
}
