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
