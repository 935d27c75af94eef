package local

import (
	"context"
	"errors"
	"syscall"

	"mailhorn/internal/deliver"
	"mailhorn/internal/store"
)

// deliverMaildir writes the message into a Maildir (home_mailbox ending in
// "/"), creating the folder on first delivery, owned by the user when we
// run as root.
func (a *Agent) deliverMaildir(ctx context.Context, req *deliver.Request, dir string, u User, prefix []byte) deliver.Result {
	if a.SizeLimit > 0 && int64(len(prefix))+req.ContentSize > a.SizeLimit {
		return result(deliver.Bounced, "5.2.2", "maildir delivery failed: error writing message: %v", syscall.EFBIG)
	}
	owner := a.owner(u)
	md := store.Maildir(dir)
	if err := md.InitOwned(0o700, owner); err != nil {
		return maildirError("create maildir file", err)
	}
	qf, body, err := req.OpenContent()
	if err != nil {
		return result(deliver.Deferred, "4.3.0", "cannot read the queue file: %v", err)
	}
	defer qf.Close()
	if _, err := a.Writer.Deliver(ctx, md, store.Content{Prefix: prefix, Body: body, Size: req.ContentSize, Owner: owner}); err != nil {
		if errors.Is(err, store.ErrShortContent) {
			return result(deliver.Deferred, "4.3.0", "maildir delivery failed: error reading message: %v", err)
		}
		return maildirError("error writing message", err)
	}
	return result(deliver.Sent, "2.0.0", "delivered to maildir")
}

// maildirError classifies a failed Maildir write like Postfix's mbox_dsn,
// except that an error of no known kind is deferred rather than bounced: a
// delivery that failed on an I/O error is worth another try.
func maildirError(what string, err error) deliver.Result {
	dsn := mboxDSN(err, "4.2.0")
	return result(statusOf(dsn), dsn, "maildir delivery failed: %s: %v", what, err)
}
