package smtpd

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"mailhorn/internal/cleanup"
)

// Reply is an SMTP reply: code, RFC 3463 enhanced status and text. A Text
// with "\n" is sent as a multi-line reply, each line with code and status.
type Reply struct {
	Code int
	DSN  string // "5.7.1"; "" for none (greeting, HELO/EHLO)
	Text string
}

func (r *Reply) String() string {
	if r.DSN == "" {
		return fmt.Sprintf("%d %s", r.Code, r.Text)
	}
	return fmt.Sprintf("%d %s %s", r.Code, r.DSN, strings.ReplaceAll(r.Text, "\n", " "))
}

// Info is what the session knows about its client and transaction, handed
// to the Policy. Addresses are in internal form (unquoted local part).
type Info struct {
	Addr       netip.Addr
	Port       uint16
	Name       string // verified client host name, or "unknown"
	Helo       string // "" before HELO/EHLO
	Protocol   string // "SMTP", "ESMTP", "LMTP"
	TLS        bool
	Sender     string   // MAIL FROM address; valid once InMail
	InMail     bool     // a MAIL transaction is open
	Recipients []string // accepted so far

	// SASLMethod and SASLUser are set once the client has authenticated
	// with AUTH ("PLAIN", "alice@example.org"); "" before.
	SASLMethod string
	SASLUser   string
	// Pipelined is true when the client sent a command before it could
	// know that PIPELINING is allowed (before the greeting, after HELO, or
	// more input behind a command that must be answered alone), for
	// reject_unauth_pipelining. Set by the session before each Check.
	Pipelined bool
	// Size is MAIL FROM's SIZE= (0 if none); at CheckEndOfData, the size
	// of the message received.
	Size int64
	// Actions collects what restrictions decided for the open transaction
	// besides permit and reject. A Policy adds to it; the session hands it
	// to cleanup with the message and clears it with the transaction.
	Actions Actions
}

// Actions are access(5) actions that change what happens to a message
// that is accepted: HOLD, DISCARD, REDIRECT, PREPEND.
type Actions struct {
	Hold     string   // non-empty: keep the message on hold; the reason for the log
	Discard  string   // non-empty: say 250 and throw the message away; the reason
	Redirect string   // non-empty: deliver to this address instead of the recipients
	Prepend  []string // header fields ("Name: value") added at the top of the message
}

// Policy decides on each stage of a session; the wiring implements it with
// smtpd_*_restrictions (permit_mynetworks, reject_unauth_destination,
// recipient validation, ...). A nil *Reply permits. A 4xx or 5xx Reply
// rejects the command; a 421 Reply also ends the session.
type Policy interface {
	CheckConnect(ctx context.Context, c *Info) *Reply
	CheckHelo(ctx context.Context, c *Info, helo string) *Reply
	CheckMail(ctx context.Context, c *Info, sender string) *Reply
	CheckRcpt(ctx context.Context, c *Info, rcpt string) *Reply
	// CheckVrfy answers VRFY for a syntactically valid address: nil gives
	// Postfix's "252 2.0.0 <address>".
	CheckVrfy(ctx context.Context, c *Info, addr string) *Reply
	// CheckData runs at DATA or the first BDAT (smtpd_data_restrictions).
	CheckData(ctx context.Context, c *Info) *Reply
	// CheckEndOfData runs once the whole content has arrived and before
	// the message is committed to the queue (smtpd_end_of_data_restrictions);
	// c.Size is the message size. A rejection queues nothing.
	CheckEndOfData(ctx context.Context, c *Info) *Reply
	// CheckAuth runs before each AUTH command (smtpd_client_auth_rate_limit).
	CheckAuth(ctx context.Context, c *Info) *Reply
	// LocalHeaderRewrite tells whether the client matches
	// local_header_rewrite_clients: its messages get cleanup's local
	// treatment (cleanup.Message.Local: header addresses completed,
	// missing Date:, Message-ID: and From: added), as a submission should.
	LocalHeaderRewrite(ctx context.Context, c *Info) bool
}

// PermitAll is a Policy that permits everything: for trusted listeners
// (LMTP in tests) and as an embeddable base.
type PermitAll struct{}

func (PermitAll) CheckConnect(context.Context, *Info) *Reply      { return nil }
func (PermitAll) CheckHelo(context.Context, *Info, string) *Reply { return nil }
func (PermitAll) CheckMail(context.Context, *Info, string) *Reply { return nil }
func (PermitAll) CheckRcpt(context.Context, *Info, string) *Reply { return nil }
func (PermitAll) CheckVrfy(context.Context, *Info, string) *Reply { return nil }
func (PermitAll) CheckData(context.Context, *Info) *Reply         { return nil }
func (PermitAll) CheckEndOfData(context.Context, *Info) *Reply    { return nil }
func (PermitAll) CheckAuth(context.Context, *Info) *Reply         { return nil }
func (PermitAll) LocalHeaderRewrite(context.Context, *Info) bool  { return false }

// Submitter puts a message into the queue; *cleanup.Cleanup is one. Submit
// reads content to EOF (or to its first error) and returns the queue ID
// only once the message is durable. A *cleanup.Error is a rejection whose
// reply is relayed to the client.
type Submitter interface {
	Submit(ctx context.Context, m *cleanup.Message, content io.Reader) (string, error)
}

// LMTPSubmitter is optionally implemented by a Submitter that can answer
// per recipient, for LMTP (RFC 2033 §4.2). results[i] is nil for accepted
// recipient i, or its error. Without it an LMTP session repeats the one
// Submit result for every recipient.
type LMTPSubmitter interface {
	SubmitLMTP(ctx context.Context, m *cleanup.Message, content io.Reader) (id string, results []error, err error)
}
