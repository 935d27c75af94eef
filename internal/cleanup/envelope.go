package cleanup

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"mailhorn/internal/queue"
)

// Class says which kind of address is being rewritten, for the *_classes
// parameters (canonical_classes, masquerade_classes, ...).
type Class int

const (
	EnvelopeSender Class = iota
	EnvelopeRecipient
	HeaderSender
	HeaderRecipient
)

func (c Class) String() string {
	switch c {
	case EnvelopeSender:
		return "envelope_sender"
	case EnvelopeRecipient:
		return "envelope_recipient"
	case HeaderSender:
		return "header_sender"
	case HeaderRecipient:
		return "header_recipient"
	}
	return "class" + strconv.Itoa(int(c))
}

// Rewriter is what cleanup needs of address rewriting (trivial-rewrite and
// the canonical/virtual tables). Addresses are in internal form: local part
// unquoted, "local@domain", or "local" without a domain.
//
// An error that is an *Error is passed to the client as is (for example
// 451 4.6.0 "Alias expansion error" when an expansion limit is hit); any
// other error is a table failure and gives 451 4.3.0.
type Rewriter interface {
	// Canonical rewrites an envelope or header address: canonicalisation
	// in the local or remote context (appending @$myorigin, ...), then the
	// canonical maps and masquerading that apply to the class.
	Canonical(ctx context.Context, addr string, class Class, local bool) (string, error)
	// ExpandVirtual expands a recipient through virtual_alias_maps,
	// recursively, within the expansion and recursion limits. An address
	// not in the tables comes back alone.
	ExpandVirtual(ctx context.Context, addr string) ([]string, error)
}

// Notifier learns of every new queue file once it is durable, so that the
// queue manager need not scan for it.
type Notifier interface {
	Queued(id string)
}

// rewriteError turns a Rewriter failure into the error Submit returns.
func rewriteError(what string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("cleanup: %s: %w", what, err)
	}
	return &Error{Code: 451, DSN: "4.3.0", Text: "Temporary lookup failure", Err: fmt.Errorf("%s: %w", what, err)}
}

// sender rewrites the envelope sender. Envelope addresses are always rewritten in
// the local context, as Postfix's cleanup does: an unqualified envelope
// address is a local one.
func (c *Cleanup) sender(ctx context.Context, s string) (string, error) {
	if s == "" || c.rw == nil {
		return s, nil
	}
	out, err := c.rw.Canonical(ctx, s, EnvelopeSender, true)
	if err != nil {
		return "", rewriteError("sender "+s, err)
	}
	// Postfix replaces MAILER-DAEMON@$myorigin by the null sender so that
	// bounces of bounces stay bounces.
	if local, domain, ok := strings.Cut(out, "@"); ok && strings.EqualFold(local, "MAILER-DAEMON") &&
		strings.EqualFold(domain, c.opt.Myorigin) {
		out = ""
	}
	return out, nil
}

// recipients rewrites, expands and de-duplicates the envelope recipients.
func (c *Cleanup) recipients(ctx context.Context, in []Recipient) ([]queue.Recipient, error) {
	dups := newDupFilter(c.opt.DuplicateFilterLimit)
	var out []queue.Recipient
	for _, r := range in {
		addr := r.Address
		if addr == "" {
			addr = c.opt.EmptyAddressRecipient
		}
		final := []string{addr}
		notify := r.Notify
		if c.rw != nil {
			canon, err := c.rw.Canonical(ctx, addr, EnvelopeRecipient, true)
			if err != nil {
				return nil, rewriteError("recipient "+r.Address, err)
			}
			if final, err = c.rw.ExpandVirtual(ctx, canon); err != nil {
				return nil, rewriteError("recipient "+r.Address, err)
			}
			// RFC 3461 §6.2.7.3 alias expansion: like Postfix, NOTIFY
			// SUCCESS is not passed on to the members of an expanded alias
			// (Postfix sends an "expanded" notice instead; see doc.go).
			if notify&queue.NotifySuccess != 0 && (len(final) != 1 || final[0] != canon) {
				if notify == queue.NotifySuccess {
					notify = queue.NotifyNever
				} else {
					notify &^= queue.NotifySuccess
				}
			}
		}
		orig := r.Address
		if !c.opt.EnableOriginalRecipient {
			orig = ""
		}
		for _, a := range final {
			key := a
			if c.opt.EnableOriginalRecipient {
				key = r.ORCPT + "\n" + strconv.Itoa(int(notify)) + "\n" + orig + "\n" + a
			}
			if dups.seen(key) {
				continue
			}
			qr := queue.Recipient{Address: a, ORCPT: r.ORCPT, Notify: notify}
			if orig != a {
				qr.Original = orig
			}
			out = append(out, qr)
		}
	}
	if len(out) == 0 {
		return nil, &Error{Code: 550, DSN: "5.1.0", Text: "No recipients specified"}
	}
	return out, nil
}

// dupFilter remembers up to limit keys (0: all), case-insensitively, like
// Postfix's been_here with BH_FLAG_FOLD: once full, new keys are let
// through without being remembered.
type dupFilter struct {
	limit int
	keys  map[string]bool
}

func newDupFilter(limit int) *dupFilter {
	return &dupFilter{limit: limit, keys: map[string]bool{}}
}

func (d *dupFilter) seen(key string) bool {
	key = strings.ToLower(key)
	if d.keys[key] {
		return true
	}
	if d.limit <= 0 || len(d.keys) < d.limit {
		d.keys[key] = true
	}
	return false
}
