package virtual

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"mailhorn/internal/deliver"
	"mailhorn/internal/maps"
	"mailhorn/internal/store"
)

// Agent is the virtual delivery agent.
type Agent struct {
	Mailboxes maps.Table // virtual_mailbox_maps
	UIDs      maps.Table // virtual_uid_maps; nil: the running user
	GIDs      maps.Table // virtual_gid_maps; nil: the running group
	Base      string     // virtual_mailbox_base
	MinUID    int        // virtual_minimum_uid
	SizeLimit int64      // virtual_mailbox_limit; 0: none
	// HeaderLimit bounds the header section read for the loop check
	// (header_size_limit).
	HeaderLimit int64
	Writer      *store.Writer
	// Quota, when set, tells whether a message of size bytes fits in the
	// recipient's mailboxes (maildir is the INBOX's root);
	// store.ErrOverQuota defers the message with 4.2.2.
	Quota func(ctx context.Context, addr, maildir string, size int64) error
}

const relay = "virtual"

// Deliver implements deliver.Agent.
func (a *Agent) Deliver(ctx context.Context, req *deliver.Request) []deliver.Result {
	return deliver.EachRecipient(ctx, req, relay, a.HeaderLimit, func(r deliver.Recipient) deliver.Result {
		return a.one(ctx, req, r)
	})
}

func (a *Agent) one(ctx context.Context, req *deliver.Request, r deliver.Recipient) deliver.Result {
	addr := r.Address
	mbox, found, err := a.lookup(ctx, a.Mailboxes, addr)
	if err != nil {
		return deliver.Resultf(deliver.Deferred, "4.3.0", "virtual_mailbox_maps lookup failure for %s: %v", addr, err)
	}
	if !found {
		return deliver.Resultf(deliver.Bounced, "5.1.1", "unknown user: %q", addr)
	}
	owner, res, ok := a.owner(ctx, addr)
	if !ok {
		return res
	}
	if !strings.HasSuffix(mbox, "/") {
		// Deliberate gap: mbox files under virtual_mailbox_base are not
		// written yet; deferring keeps the mail until they are.
		return deliver.Resultf(deliver.Deferred, "4.3.0", "mailbox %s: mbox delivery is not supported yet, use a Maildir (a result ending in /)", mbox)
	}
	if strings.Contains("/"+mbox, "/../") {
		return deliver.Resultf(deliver.Deferred, "4.3.5", "mail system configuration error: mailbox path %q contains \"..\"", mbox)
	}
	dir := store.Maildir(filepath.Join(a.Base, mbox))
	prefix := []byte("Return-Path: <" + req.Sender + ">\nDelivered-To: " + addr + "\n")
	if a.Quota != nil {
		switch err := a.Quota(ctx, addr, string(dir), int64(len(prefix))+req.ContentSize); {
		case errors.Is(err, store.ErrOverQuota):
			return deliver.Resultf(deliver.Deferred, "4.2.2", "maildir delivery failed: mailbox %s is over quota", addr)
		case err != nil:
			return deliver.Resultf(deliver.Deferred, "4.3.0", "quota check for %s: %v", addr, err)
		}
	}
	return deliver.Maildir(ctx, a.Writer, req, dir, owner, prefix, a.SizeLimit)
}

// lookup searches a table in virtual(8)'s order: user@domain, then
// @domain (FindAddress, with no local domains and no extensions).
func (a *Agent) lookup(ctx context.Context, t maps.Table, addr string) (string, bool, error) {
	r, found, err := maps.FindAddress(ctx, t, addr, maps.FindOptions{})
	return r.Value, found, err
}

// owner finds the recipient's uid and gid. Without the tables the files
// belong to the running user; with them, they are given to the uid/gid
// when running as root.
func (a *Agent) owner(ctx context.Context, addr string) (*store.Owner, deliver.Result, bool) {
	if a.UIDs == nil && a.GIDs == nil {
		return nil, deliver.Result{}, true
	}
	ids := [2]int{os.Getuid(), os.Getgid()}
	for i, spec := range []struct {
		t    maps.Table
		name string
	}{{a.UIDs, "virtual_uid_maps"}, {a.GIDs, "virtual_gid_maps"}} {
		if spec.t == nil {
			continue
		}
		v, found, err := a.lookup(ctx, spec.t, addr)
		if err != nil {
			return nil, deliver.Resultf(deliver.Deferred, "4.3.0", "%s lookup failure for %s: %v", spec.name, addr, err), false
		}
		if !found {
			return nil, deliver.Resultf(deliver.Deferred, "4.3.5", "mail system configuration error: recipient %s: uid or gid not found in %s", addr, spec.name), false
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return nil, deliver.Resultf(deliver.Deferred, "4.3.5", "mail system configuration error: recipient %s: bad %s result %q", addr, spec.name, v), false
		}
		ids[i] = n
	}
	if a.UIDs != nil && ids[0] < a.MinUID {
		return nil, deliver.Resultf(deliver.Deferred, "4.3.5", "mail system configuration error: recipient %s: uid %d is below virtual_minimum_uid %d", addr, ids[0], a.MinUID), false
	}
	if os.Geteuid() != 0 {
		return nil, deliver.Result{}, true
	}
	return &store.Owner{UID: ids[0], GID: ids[1]}, deliver.Result{}, true
}
