package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"mailhorn/internal/queue"
)

// Op is what a request asks for.
type Op string

// The operations. List, Flush and Deliver are allowed on the public socket;
// the others only on the private one.
const (
	OpList    Op = "list"    // every message, as postqueue -j lists them
	OpFlush   Op = "flush"   // deferred mail now (postqueue -f, -s site)
	OpDeliver Op = "deliver" // one message now (postqueue -i); never releases a held one
	OpDelete  Op = "delete"  // postsuper -d
	OpHold    Op = "hold"    // postsuper -h
	OpRelease Op = "release" // postsuper -H
	OpRequeue Op = "requeue" // postsuper -r: deliver now, releasing a held message
	OpPurge   Op = "purge"   // postsuper -p
)

// MaxRequest bounds a request line, newline included.
const MaxRequest = 4096

// maxSite bounds a flush site (a domain name or address literal).
const maxSite = 255

// Request is one request line.
type Request struct {
	Op Op `json:"op"`
	// ID names one message (act operations and deliver); All asks for
	// every message in Queues instead. Exactly one of them for delete,
	// hold, release and requeue.
	ID  string `json:"id,omitempty"`
	All bool   `json:"all,omitempty"`
	// Queues limits an act operation to these queues; empty means the
	// operation's default (see DefaultQueues).
	Queues []string `json:"queues,omitempty"`
	// Site limits a flush to one destination (postqueue -s).
	Site string `json:"site,omitempty"`
}

// Reply is one reply line. A reply to a request is zero or more item lines
// (Message, or ID, or Path set) and then one final line with Done or Error.
type Reply struct {
	Message *Message `json:"message,omitempty"` // list
	ID      string   `json:"id,omitempty"`      // a message an operation on ALL acted on
	Path    string   `json:"path,omitempty"`    // a file purge removed, relative to the queue directory
	Done    bool     `json:"done,omitempty"`    // final: success
	Count   int      `json:"count,omitempty"`   // final: messages acted on or files removed
	Error   string   `json:"error,omitempty"`   // final: failure
}

// Final tells whether the reply ends a response.
func (r *Reply) Final() bool { return r.Done || r.Error != "" }

// Message is one queue file as postqueue -j describes it (same member
// names), plus SenderUID for maildrop files.
type Message struct {
	QueueName    string      `json:"queue_name"`
	QueueID      string      `json:"queue_id"`
	ArrivalTime  int64       `json:"arrival_time"` // seconds since 1970
	MessageSize  int64       `json:"message_size"` // header and body bytes
	ForcedExpire bool        `json:"forced_expire"`
	Sender       string      `json:"sender"` // external form; empty_address_recipient for <>
	Recipients   []Recipient `json:"recipients"`
	// SenderUID is the owner of a maildrop file, whose contents are not
	// read (they are untrusted until pickup).
	SenderUID *int `json:"sender_uid,omitempty"`
}

// Recipient is one recipient still to be delivered.
type Recipient struct {
	Address     string `json:"address"`
	DelayReason string `json:"delay_reason,omitempty"`
}

// Queues an operation may name. Active is accepted for Postfix
// compatibility and holds nothing in mailhorn.
var knownQueues = map[string]bool{
	queue.Incoming: true, queue.Active: true, queue.Deferred: true, queue.Hold: true,
}

// DefaultQueues are where an operation looks when no queue is named, as in
// postsuper(1).
func DefaultQueues(op Op) []string {
	switch op {
	case OpHold:
		return []string{queue.Incoming, queue.Active, queue.Deferred}
	case OpRelease:
		return []string{queue.Hold}
	case OpDeliver:
		return []string{queue.Incoming, queue.Active, queue.Deferred}
	default:
		return []string{queue.Hold, queue.Incoming, queue.Active, queue.Deferred}
	}
}

// ErrBadRequest marks a request that does not parse or is not allowed.
var ErrBadRequest = errors.New("bad request")

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
}

// ParseRequest decodes and checks one request line (without its newline).
func ParseRequest(line []byte) (Request, error) {
	var r Request
	if len(line) > MaxRequest {
		return r, bad("request of %d bytes, at most %d", len(line), MaxRequest)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Request{}, bad("%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Request{}, bad("trailing data after the request")
	}
	if err := r.check(); err != nil {
		return Request{}, err
	}
	if len(r.Queues) == 0 {
		r.Queues = nil
	}
	return r, nil
}

func (r *Request) check() error {
	if r.ID != "" && !queue.ValidID(r.ID) {
		return bad("invalid queue ID %q", r.ID)
	}
	if len(r.Queues) > len(knownQueues) {
		return bad("%d queues named", len(r.Queues))
	}
	for _, q := range r.Queues {
		if !knownQueues[q] {
			return bad("unknown queue %q", q)
		}
	}
	if len(r.Site) > maxSite {
		return bad("site of %d bytes", len(r.Site))
	}
	for i := 0; i < len(r.Site); i++ {
		if c := r.Site[i]; c <= ' ' || c >= 0x7f {
			return bad("site with byte %#x", c)
		}
	}
	noArgs := r.ID == "" && !r.All && len(r.Queues) == 0
	switch r.Op {
	case OpList, OpPurge:
		if !noArgs || r.Site != "" {
			return bad("%s takes no arguments", r.Op)
		}
	case OpFlush:
		if !noArgs {
			return bad("flush takes only a site")
		}
	case OpDeliver:
		if r.ID == "" || r.All || len(r.Queues) > 0 || r.Site != "" {
			return bad("deliver takes one queue ID")
		}
	case OpDelete, OpHold, OpRelease, OpRequeue:
		if (r.ID == "") == !r.All {
			return bad("%s takes a queue ID or all", r.Op)
		}
		if r.Site != "" {
			return bad("%s takes no site", r.Op)
		}
	case "":
		return bad("no op")
	default:
		return bad("unknown op %q", r.Op)
	}
	return nil
}

// Access is what a socket lets its clients do.
type Access int

const (
	// Public allows list, flush and deliver: any local user may (public/showq).
	Public Access = iota
	// Private allows everything: mail_owner and root (private/control).
	Private
)

// Allows tells whether the access level permits the operation.
func (a Access) Allows(op Op) bool {
	switch op {
	case OpList, OpFlush, OpDeliver:
		return true
	}
	return a == Private
}
