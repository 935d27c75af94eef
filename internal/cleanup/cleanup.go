package cleanup

import (
	"context"
	"errors"
	"fmt"
	"io"

	"mailhorn/internal/maillog"
	"mailhorn/internal/queue"
)

// Message is the envelope of a submission.
type Message struct {
	Sender     string // envelope sender as received ("" = null sender)
	Recipients []Recipient
	Attrs      []queue.Attr // client_name, client_address, helo_name, protocol, envid, ret, smtputf8, body, ...
	// Local is true when the message is rewritten in the "local" context:
	// local submissions (sendmail/pickup), and SMTP clients that match
	// local_header_rewrite_clients. Header addresses are then rewritten
	// and missing From:, Date: and Message-Id: headers added, as Postfix's
	// cleanup does for its local rewriting context. Envelope addresses are
	// always rewritten in the local context.
	Local bool
	// Received is a complete Received: header field (without the final
	// newline; folded lines separated by "\n\t") prepended to the content,
	// or "".
	Received string
	// ReceivedFor, when set instead of Received, builds our Received:
	// header once the queue ID is known, so that it carries "id QUEUEID"
	// as Postfix's does.
	ReceivedFor func(queueID string) string
	// FullName is the sender's full name (sendmail -F), used in an added
	// From: header.
	FullName string
	// OnQueueID, if not nil, is called with the queue ID as soon as it is
	// assigned, before cleanup logs anything about the message, so that
	// smtpd can log "ID: client=..." first as Postfix does.
	OnQueueID func(id string)

	// Actions decided by smtpd's restrictions (access(5) results).
	// Hold, when not "", puts the message on hold with that reason
	// (logged "ID: hold: ..."); Discard, when not "", accepts the message
	// without queueing it for delivery (logged "ID: discard: ..."), so the
	// client still gets its 250; Redirect, when not "", replaces every
	// recipient with that address; Prepend are header fields ("Name:
	// value") added at the top, right after our Received: header.
	Hold     string
	Discard  string
	Redirect string
	Prepend  []string
	// EndOfData, if not nil, is called once the content has been read and
	// before the queue file is committed, with the message size; a non-nil
	// *Error rejects the message and nothing is queued
	// (smtpd_end_of_data_restrictions).
	EndOfData func(size int64) *Error
}

// Recipient is one envelope recipient as received.
type Recipient struct {
	Address string
	ORCPT   string // DSN ORCPT as received ("rfc822;addr") or ""
	Notify  byte   // queue.Notify* bits
}

// Error is a rejection with an SMTP reply: smtpd relays Code, DSN and Text
// to the client; other callers report it.
type Error struct {
	Code int    // 4xx or 5xx
	DSN  string // "5.3.4"
	Text string // "Message size exceeds fixed limit"
	Err  error  // the cause, for the log (a table failure), or nil
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s %s: %v", e.Code, e.DSN, e.Text, e.Err)
	}
	return fmt.Sprintf("%d %s %s", e.Code, e.DSN, e.Text)
}

func (e *Error) Unwrap() error { return e.Err }

// Temporary tells whether the client may try again.
func (e *Error) Temporary() bool { return e.Code/100 == 4 }

// Cleanup is the single entry into the queue. It is safe for concurrent
// use: every Submit works on its own queue file.
type Cleanup struct {
	q   *queue.Queue
	rw  Rewriter
	n   Notifier
	log *maillog.Service
	opt Options

	bufs bufPool
}

// New returns a Cleanup writing into q. rw may be nil (addresses are then
// left as they are), n and log too.
func New(q *queue.Queue, rw Rewriter, n Notifier, log *maillog.Service, opt Options) *Cleanup {
	if opt.HeaderSizeLimit <= 0 {
		opt.HeaderSizeLimit = DefaultOptions().HeaderSizeLimit
	}
	return &Cleanup{q: q, rw: rw, n: n, log: log, opt: opt}
}

// BounceAttr is the queue file attribute by which cleanup asks the queue
// manager to bounce every recipient; its value is "X.Y.Z text".
const BounceAttr = "bounce"

// Submit reads the content (lines ending in CRLF or LF; for SMTP already
// dot-unstuffed), grooms it (Received, missing Date/Message-ID/From, header
// limits, hop count), rewrites addresses, expands virtual aliases, writes the
// queue file and returns its ID once the file is durable: only then may the
// message be acknowledged. A rejection is an *Error; any other error is a
// failure to read the content or to write the queue file (smtpd answers
// 451 4.3.0). Submit may return before it has read all of content.
func (c *Cleanup) Submit(ctx context.Context, m *Message, content io.Reader) (string, error) {
	if c == nil || c.q == nil {
		return "", errors.New("cleanup: no queue")
	}
	if m.Discard != "" {
		return c.discard(m, content)
	}
	s := &submission{c: c, ctx: ctx, m: m, arrival: c.opt.now(), in: &countReader{r: content}}
	var err error
	if s.sender, err = c.sender(ctx, m.Sender); err != nil {
		return "", err
	}
	rcpts := m.Recipients
	if m.Redirect != "" {
		rcpts = redirect(rcpts, m.Redirect)
	}
	if s.rcpts, err = c.recipients(ctx, rcpts); err != nil {
		return "", err
	}
	s.rc = c.rewriteContext(m)
	s.st.seen = map[string]bool{}
	err = s.run(s.in)
	if err != nil {
		if s.w != nil {
			if aerr := s.w.Abort(); aerr != nil {
				c.warn("%s: %v", s.w.ID, aerr)
			}
		}
		var e *Error
		if errors.As(err, &e) {
			return "", e
		}
		return "", fmt.Errorf("cleanup: %w", err)
	}
	if m.Hold != "" && c.hold(s.w.ID, m.Hold) {
		return s.w.ID, nil
	}
	if c.n != nil {
		c.n.Queued(s.w.ID)
	}
	return s.w.ID, nil
}

func (c *Cleanup) warn(format string, args ...any) {
	if c.log != nil {
		c.log.Warning(format, args...)
	}
}

func (c *Cleanup) logf(format string, args ...any) {
	if c.log != nil {
		c.log.Printf(format, args...)
	}
}
