package local

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"mailhorn/internal/address"
	"mailhorn/internal/deliver"
	"mailhorn/internal/privsep"
)

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

// deliverMailbox writes the message into a user's mailbox (mbox file or
// Maildir) with the user's rights, through the runner.
func (a *Agent) deliverMailbox(ctx context.Context, rc *rcpt, u User) deliver.Result {
	path, maildir := privsep.MailboxPath(a.HomeMailbox, a.SpoolDir, u.Name, u.Home)
	prefix := headers(rc.req, rc.r)
	req := &privsep.Request{
		Source:    privsep.SourceMailbox,
		As:        privsep.Identity{User: u.Name, UID: u.UID, GID: u.GID, Home: u.Home, Shell: u.Shell},
		Path:      path,
		SizeLimit: a.SizeLimit,
		Hostname:  a.Hostname,
	}
	if maildir {
		req.Op = privsep.OpMaildir
		req.Copy = privsep.Copy{Prefix: prefix}
	} else {
		req.Op = privsep.OpMbox
		req.Copy = privsep.Copy{Prefix: append([]byte(fromLine(rc.req.Sender, a.now())), prefix...), QuoteFrom: true, BlankLine: true}
		req.Lock = a.Lock
		req.StrictOwnership = a.StrictOwnership
		if a.HomeMailbox == "" {
			req.As.GID = spoolGroup(filepath.Dir(path), u.GID)
		}
	}
	res, offset := a.runAt(ctx, rc, req)
	if res.Status == deliver.Sent && maildir && a.Notify != nil {
		a.Notify(filepath.Clean(path))
	}
	if res.Status == deliver.Sent && !maildir && a.Biff != nil {
		a.Biff(u.Name, offset)
	}
	if res.Status == deliver.Deferred && strings.Contains(res.Text, "is not owned by recipient") {
		a.warn("specify \"strict_mailbox_ownership = no\" to ignore mailbox ownership mismatch")
	}
	return res
}

// spoolGroup is the group mailbox files in the spool directory are
// written with, as local(8) decides: the spool's group when the spool is
// group-writable but not world-writable (Debian's /var/mail, root:mail
// 2775), else the user's own group.
func spoolGroup(spool string, gid int) int {
	fi, err := os.Stat(spool)
	if err != nil || fi.Mode().Perm()&0o002 != 0 || fi.Mode().Perm()&0o020 == 0 {
		return gid
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Gid != 0 {
		return int(st.Gid)
	}
	return gid
}

// run hands a request to the runner with the message content.
func (a *Agent) run(ctx context.Context, rc *rcpt, req *privsep.Request) deliver.Result {
	res, _ := a.runAt(ctx, rc, req)
	return res
}

// runAt is run, also returning where the message starts in an mbox file.
func (a *Agent) runAt(ctx context.Context, rc *rcpt, req *privsep.Request) (deliver.Result, int64) {
	if err := ctx.Err(); err != nil {
		return deliver.Resultf(deliver.Deferred, "4.3.0", "delivery interrupted: %v", err), 0
	}
	qf, body, err := rc.req.OpenContent()
	if err != nil {
		return deliver.Resultf(deliver.Deferred, "4.3.0", "cannot read the queue file: %v", err), 0
	}
	defer qf.Close()
	req.QueueID = rc.req.QueueID
	req.Recipient = rc.r.Address
	req.Content = body
	req.Size = rc.req.ContentSize
	res, err := a.runner().Run(ctx, req)
	if err != nil {
		return deliver.Resultf(deliver.Deferred, "4.3.0", "cannot deliver with the rights of uid %d: %v", req.As.UID, err), 0
	}
	return deliver.Result{Status: res.Status, DSN: res.DSN, Text: res.Text}, res.Offset
}

func (a *Agent) runner() privsep.Runner {
	if a.Runner != nil {
		return a.Runner
	}
	return &privsep.InProcess{Maildirs: a.Writer, Now: a.Now}
}
