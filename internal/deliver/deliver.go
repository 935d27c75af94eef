// Package deliver is the contract between the queue manager and the delivery
// agents (local, virtual, pipe, smtp, lmtp, discard, error): the queue
// manager hands an agent one message and a batch of recipients for one
// destination; the agent answers, per recipient, sent / deferred / bounced
// with an RFC 3463 status and the text to log and to put in a bounce. The
// queue manager alone decides retries, bounces and deletion.
package deliver

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"
)

// Request is one delivery attempt: one message, one transport and next hop,
// one or more recipients.
type Request struct {
	QueueID  string
	Arrival  time.Time
	Sender   string // envelope sender, "" for the null sender
	Nexthop  string // the transport's destination (domain, [host]:port, host name for local)
	EnvID    string // DSN ENVID, RFC 3461
	Ret      string // DSN RET: "FULL", "HDRS" or ""
	SMTPUTF8 bool
	Body     string // "7BIT", "8BITMIME", "BINARYMIME" or ""

	// Path, ContentOffset and ContentSize locate the message content in the
	// queue file; OpenContent gives each agent its own reader.
	Path          string
	ContentOffset int64
	ContentSize   int64

	Recipients []Recipient
}

// Recipient is one recipient of a request. Index identifies it in the
// results; it is the recipient's position in the queue file.
type Recipient struct {
	Index    int
	Address  string // after rewriting and resolution
	Original string // as the client gave it (for orig_to= and DSN Original-Recipient)
	Notify   byte   // DSN NOTIFY bits as in the queue package
}

// OpenContent opens the queue file and returns a reader positioned at the
// content, limited to it. The *os.File inside lets io.Copy into another file
// use copy_file_range. The caller closes the returned file.
func (r *Request) OpenContent() (*os.File, io.Reader, error) {
	f, err := os.Open(r.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("queue file %s: %w", r.QueueID, err)
	}
	if _, err := f.Seek(r.ContentOffset, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("queue file %s: %w", r.QueueID, err)
	}
	return f, &io.LimitedReader{R: f, N: r.ContentSize}, nil
}

// Status is the outcome for one recipient.
type Status int

const (
	Sent     Status = iota + 1 // delivered; the queue manager marks the recipient done
	Deferred                   // try again later
	Bounced                    // permanent failure; the sender gets a DSN
)

func (s Status) String() string {
	switch s {
	case Sent:
		return "sent"
	case Deferred:
		return "deferred"
	case Bounced:
		return "bounced"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Result is an agent's answer for one recipient.
type Result struct {
	Index  int
	Status Status
	DSN    string // RFC 3463 enhanced status, e.g. "2.0.0", "4.4.1", "5.1.1"
	Text   string // for the log's "(...)" and for the DSN: "delivered to maildir", "host x[1.2.3.4] said: 550 ..."
	Relay  string // for the log's relay=: "virtual", "local", "mx.example[192.0.2.1]:25"
	// Remote is the remote server's reply, when there was one, for the DSN's
	// Diagnostic-Code: "smtp; 550 5.1.1 user unknown".
	Remote string
	// Delays: connection set-up and transmission, for delays=a/b/c/d.
	Setup, Transmit time.Duration
}

// Agent delivers. Deliver returns exactly one Result per request recipient.
// It must honour ctx (the queue manager cancels at shutdown; the result for
// unfinished recipients is then Deferred).
type Agent interface {
	Deliver(ctx context.Context, req *Request) []Result
}

// AgentFunc adapts a function to Agent.
type AgentFunc func(ctx context.Context, req *Request) []Result

// Deliver calls f.
func (f AgentFunc) Deliver(ctx context.Context, req *Request) []Result { return f(ctx, req) }

// All returns the same result for every recipient of req: for failures that
// concern the whole request (a connection refused, a table down).
func All(req *Request, st Status, dsn, text, relay string) []Result {
	res := make([]Result, len(req.Recipients))
	for i, r := range req.Recipients {
		res[i] = Result{Index: r.Index, Status: st, DSN: dsn, Text: text, Relay: relay}
	}
	return res
}
