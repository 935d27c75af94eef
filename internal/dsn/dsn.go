package dsn

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"
)

// Kind is what a report tells.
type Kind int

const (
	Failure Kind = iota // the message could not be delivered (Action: failed)
	Delay               // still trying (Action: delayed)
	Success             // delivered (Action: delivered), for NOTIFY=SUCCESS
	// PostmasterCopy is a failure report for the postmaster: a bounce
	// that could not be delivered (a double bounce).
	PostmasterCopy
)

// Recipient is one recipient's entry in a report.
type Recipient struct {
	Address     string // Final-Recipient
	Original    string // the address before rewriting, for "(expanded from <x>)"
	ORCPT       string // DSN ORCPT "type;addr" (decoded), for Original-Recipient
	Status      string // "5.1.1"
	Text        string // "unknown user: bob"
	RemoteMTA   string // host name of the remote server, when there was one
	Diagnostic  string // "smtp; 550 5.1.1 ...", the remote reply; "" uses Text
	LastAttempt time.Time
}

// Report is one notification.
type Report struct {
	Kind      Kind
	Hostname  string // $myhostname: Reporting-MTA, From:, the text
	MailName  string // $mail_name, for the Message-ID-like boundary; may be ""
	QueueID   string // of the original message
	Arrival   time.Time
	Sender    string // envelope sender of the original message
	To        string // recipient of the report (the sender, or the postmaster)
	EnvID     string // DSN ENVID, echoed as Original-Envelope-Id
	MessageID string // Message-ID of the report, "<...>"
	Date      time.Time
	// RetryUntil and DelayedFor are for delay reports: Will-Retry-Until,
	// and the "could not be delivered for more than ..." text.
	RetryUntil time.Time
	DelayedFor time.Duration
	Recipients []Recipient

	// HeadersOnly is RET=HDRS; SizeLimit (bounce_size_limit) bounds the
	// returned original: past it only the headers are returned.
	HeadersOnly bool
	SizeLimit   int64
}

// Write renders the report, with the original message read from orig
// (size bytes, LF line endings as in the queue). Lines end in LF.
func (r *Report) Write(w io.Writer, orig io.Reader, size int64) error {
	bw := bufio.NewWriter(w)
	utf8 := r.needsUTF8()
	boundary := r.QueueID + "." + fmt.Sprint(r.Date.Unix()) + "/" + r.Hostname

	original, headersOnly, err := r.original(orig, size)
	if err != nil {
		return fmt.Errorf("dsn: read original message: %w", err)
	}
	eightBit := !isASCII(original) || utf8

	fmt.Fprintf(bw, "From: MAILER-DAEMON@%s (Mail Delivery System)\n", r.Hostname)
	fmt.Fprintf(bw, "Subject: %s\n", r.subject())
	fmt.Fprintf(bw, "To: %s\n", headerValue(r.To))
	bw.WriteString("Auto-Submitted: auto-replied\n")
	bw.WriteString("MIME-Version: 1.0\n")
	fmt.Fprintf(bw, "Content-Type: multipart/report; report-type=delivery-status;\n\tboundary=%q\n", boundary)
	if eightBit {
		bw.WriteString("Content-Transfer-Encoding: 8bit\n")
	}
	if r.MessageID != "" {
		fmt.Fprintf(bw, "Message-Id: %s\n", headerValue(r.MessageID))
	}
	fmt.Fprintf(bw, "Date: %s\n", r.Date.Format(time.RFC1123Z))
	bw.WriteString("\nThis is a MIME-encapsulated message.\n\n")

	// Part 1: the text for people.
	fmt.Fprintf(bw, "--%s\n", boundary)
	bw.WriteString("Content-Description: Notification\nContent-Type: text/plain; charset=")
	if utf8 {
		bw.WriteString("utf-8\n\n")
	} else {
		bw.WriteString("us-ascii\n\n")
	}
	r.writeText(bw)

	// Part 2: the machine-readable status (RFC 3464 §2).
	fmt.Fprintf(bw, "\n--%s\n", boundary)
	if utf8 {
		bw.WriteString("Content-Description: Delivery report\nContent-Type: message/global-delivery-status\n\n")
	} else {
		bw.WriteString("Content-Description: Delivery report\nContent-Type: message/delivery-status\n\n")
	}
	r.writeStatus(bw)

	// Part 3: the original message or its headers.
	fmt.Fprintf(bw, "\n--%s\n", boundary)
	switch {
	case headersOnly:
		bw.WriteString("Content-Description: Undelivered Message Headers\nContent-Type: text/rfc822-headers\n")
	case r.Kind == Success:
		bw.WriteString("Content-Description: Delivered Message\nContent-Type: message/rfc822\n")
	default:
		bw.WriteString("Content-Description: Undelivered Message\nContent-Type: message/rfc822\n")
	}
	if eightBit {
		bw.WriteString("Content-Transfer-Encoding: 8bit\n")
	}
	bw.WriteString("\n")
	bw.Write(original)
	if len(original) > 0 && original[len(original)-1] != '\n' {
		bw.WriteString("\n")
	}
	fmt.Fprintf(bw, "\n--%s--\n", boundary)
	return bw.Flush()
}

func (r *Report) subject() string {
	switch r.Kind {
	case Delay:
		return "Delayed Mail (still being retried)"
	case Success:
		return "Successful Mail Delivery Report"
	case PostmasterCopy:
		return "Postmaster Copy: Undelivered Mail"
	}
	return "Undelivered Mail Returned to Sender"
}

// original reads what is returned of the original message: all of it, or
// its header section when RET=HDRS or when it is larger than SizeLimit. The
// header section is cut at a line boundary within the limit too.
func (r *Report) original(orig io.Reader, size int64) ([]byte, bool, error) {
	// Like Postfix, delay and success notices return the headers only: the
	// message is not lost, nobody needs it back.
	headersOnly := r.HeadersOnly || (r.SizeLimit > 0 && size > r.SizeLimit) || r.Kind == Delay || r.Kind == Success
	limit := size
	if r.SizeLimit > 0 && limit > r.SizeLimit {
		limit = r.SizeLimit
	}
	if orig == nil {
		return nil, headersOnly, nil
	}
	buf, err := io.ReadAll(io.LimitReader(orig, limit))
	if err != nil {
		return nil, false, err
	}
	if !headersOnly {
		return buf, false, nil
	}
	if i := bytes.Index(buf, []byte("\n\n")); i >= 0 {
		return buf[:i+1], true, nil
	}
	if bytes.HasPrefix(buf, []byte("\n")) {
		return nil, true, nil
	}
	// The header section is longer than the limit: keep whole lines only.
	if int64(len(buf)) < size {
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			buf = buf[:i+1]
		} else {
			buf = nil
		}
	}
	return buf, true, nil
}

func (r *Report) needsUTF8() bool {
	if !isASCII([]byte(r.Sender)) {
		return true
	}
	for _, rc := range r.Recipients {
		if !isASCII([]byte(rc.Address)) || !isASCII([]byte(rc.ORCPT)) {
			return true
		}
	}
	return false
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// headerValue makes text safe as (part of) one header field: no line
// breaks or other control characters.
func headerValue(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' && r != '\t' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
