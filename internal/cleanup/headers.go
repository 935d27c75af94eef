package cleanup

import (
	"bytes"
	"context"
	"strings"
	"time"

	"mailhorn/internal/address"
)

// hdrKind is what cleanup does with a primary message header, after
// Postfix's header_opts table.
type hdrKind uint8

const (
	hdrSender    hdrKind = 1 << iota // address list rewritten as header_sender
	hdrRecipient                     // address list rewritten as header_recipient
	hdrResent                        // a Resent- header: missing headers get the Resent- form
	hdrVisible                       // a destination the recipients see (To, Cc and their Resent- forms)
)

// knownHeaders are the headers cleanup looks at, by lower-case name. It is
// never written.
var knownHeaders = map[string]hdrKind{
	"apparently-to":               hdrRecipient,
	"bcc":                         hdrRecipient,
	"cc":                          hdrRecipient | hdrVisible,
	"disposition-notification-to": hdrSender,
	"errors-to":                   hdrSender,
	"from":                        hdrSender,
	"mail-followup-to":            hdrSender,
	"reply-to":                    hdrSender,
	"resent-bcc":                  hdrRecipient | hdrResent,
	"resent-cc":                   hdrRecipient | hdrResent | hdrVisible,
	"resent-date":                 hdrResent,
	"resent-from":                 hdrSender | hdrResent,
	"resent-message-id":           hdrResent,
	"resent-reply-to":             hdrRecipient | hdrResent,
	"resent-sender":               hdrSender | hdrResent,
	"resent-to":                   hdrRecipient | hdrResent | hdrVisible,
	"return-path":                 hdrSender,
	"return-receipt-to":           hdrSender,
	"sender":                      hdrSender,
	"to":                          hdrRecipient | hdrVisible,
}

// HeaderName returns the name of a header line ("Subject" for
// "Subject: x", also for the obsolete "Subject : x"), or "" when the line
// is not a header: the name is one or more printable ASCII characters
// other than ':', then optional blanks, then ':' (Postfix's is_header).
func HeaderName(line []byte) string {
	i := 0
	for i < len(line) && line[i] > ' ' && line[i] < 0x7f && line[i] != ':' {
		i++
	}
	if i == 0 {
		return ""
	}
	j := i
	for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
		j++
	}
	if j == len(line) || line[j] != ':' {
		return ""
	}
	return string(line[:i])
}

// headerState is what the header block told us: what was seen and what
// must be added at its end.
type headerState struct {
	hops       int // Received: headers, ours included
	seen       map[string]bool
	resent     bool     // a Resent- header was seen
	visible    bool     // a To:, Cc:, Resent-To: or Resent-Cc: was seen
	messageIDs []string // Message-Id values, for the log
	resentIDs  []string // Resent-Message-Id values, for the log
}

// rewriteContext tells how headers of this message are treated: rewritten
// in the local or remote context, or not at all (Postfix's
// hdr_rewrite_context, empty for remote clients by default).
type rewriteContext int

const (
	noRewrite rewriteContext = iota
	localRewrite
	remoteRewrite
)

func (c *Cleanup) rewriteContext(m *Message) rewriteContext {
	switch {
	case m.Local:
		return localRewrite
	case c.opt.RemoteHeaderRewriteDomain != "":
		return remoteRewrite
	}
	return noRewrite
}

// header processes one complete primary header field (folded lines joined
// by "\n", no final newline) and returns what goes into the queue file, or
// nil when the header is dropped.
func (c *Cleanup) header(ctx context.Context, st *headerState, rc rewriteContext, field []byte) ([]byte, error) {
	name := strings.ToLower(HeaderName(field))
	kind := knownHeaders[name]
	st.seen[name] = true
	if kind&hdrResent != 0 {
		st.resent = true
	}
	if kind&hdrVisible != 0 {
		st.visible = true
	}
	switch name {
	case "received":
		st.hops++
	case "message-id":
		st.messageIDs = append(st.messageIDs, logValue(field))
	case "resent-message-id":
		st.resentIDs = append(st.resentIDs, logValue(field))
	}
	for _, d := range c.opt.DropHeaders {
		if d == name {
			return nil, nil
		}
	}
	if rc == noRewrite || c.rw == nil || kind&(hdrSender|hdrRecipient) == 0 {
		return field, nil
	}
	class := HeaderRecipient
	if kind&hdrSender != 0 {
		class = HeaderSender
	}
	return c.rewriteHeader(ctx, field, class, rc == localRewrite)
}

// rewriteHeader rewrites the addresses of an address-list header. Only the
// addresses that change are replaced: display names, comments, groups and
// folding stay as they were. A header that does not parse as an address
// list is kept as it is.
func (c *Cleanup) rewriteHeader(ctx context.Context, field []byte, class Class, local bool) ([]byte, error) {
	colon := bytes.IndexByte(field, ':')
	body := string(field[colon+1:])
	list, err := address.ParseList(body)
	if err != nil {
		return field, nil
	}
	changed := false
	for _, e := range list.Entries {
		in := e.Addr.Internal()
		if in == "" {
			continue
		}
		out, err := c.rw.Canonical(ctx, in, class, local)
		if err != nil {
			return nil, rewriteError("header address "+in, err)
		}
		if out != in {
			e.Addr = address.FromInternal(out)
			changed = true
		}
	}
	if !changed {
		return field, nil
	}
	out := append([]byte(nil), field[:colon+1]...)
	return append(out, list.String()...), nil
}

// logValue is a header's value as Postfix logs it: leading blanks removed,
// folding undone.
func logValue(field []byte) string {
	v := field[bytes.IndexByte(field, ':')+1:]
	s := strings.TrimLeft(string(v), " \t")
	s = strings.ReplaceAll(s, "\r", "")
	return strings.ReplaceAll(s, "\n", "")
}

// missingHeaders returns the headers Postfix adds at the end of the header
// block (Message-Id, Date, From, then the undisclosed recipients header),
// each ending in "\n", and the Message-Id it added ("" if none).
func (c *Cleanup) missingHeaders(st *headerState, rc rewriteContext, m *Message, sender, id string, arrival time.Time) (string, string) {
	if rc == noRewrite && !c.opt.AlwaysAddMissingHeaders {
		return "", ""
	}
	prefix := ""
	if st.resent {
		prefix = "Resent-"
	}
	lower := strings.ToLower(prefix)
	var b strings.Builder
	msgid := ""
	if !st.seen[lower+"message-id"] {
		msgid = "<" + arrival.UTC().Format("20060102150405") + "." + id + "@" + c.opt.Hostname + ">"
		b.WriteString(prefix + "Message-Id: " + msgid + "\n")
	}
	if !st.seen[lower+"date"] {
		b.WriteString(prefix + "Date: " + arrival.Format("Mon, _2 Jan 2006 15:04:05 -0700 (MST)") + "\n")
	}
	if !st.seen[lower+"from"] {
		b.WriteString(prefix + "From: " + fromValue(sender, m.FullName) + "\n")
	}
	if !st.visible && c.opt.UndisclosedRecipientsHeader != "" && HeaderName([]byte(c.opt.UndisclosedRecipientsHeader)) != "" {
		b.WriteString(c.opt.UndisclosedRecipientsHeader + "\n")
	}
	return b.String(), msgid
}

// fromValue is the value of an added From: header: the sender, with the
// full name as a phrase when there is one (Postfix's header_from_format =
// standard), or MAILER-DAEMON for the null sender.
func fromValue(sender, fullName string) string {
	if sender == "" {
		return "MAILER-DAEMON"
	}
	addr := address.FromInternal(sender).String()
	fullName = strings.NewReplacer("\r", " ", "\n", " ").Replace(fullName)
	if strings.TrimSpace(fullName) == "" {
		return addr
	}
	return phrase(fullName) + " <" + addr + ">"
}

// phrase prints a full name as an RFC 5322 phrase: words separated by one
// space, or a quoted string when it holds specials (or the legacy %!
// routing operators), as Postfix does.
func phrase(s string) string {
	if !strings.ContainsAny(s, "()<>@,;:\\\".[]%!") {
		return strings.Join(strings.Fields(s), " ")
	}
	return address.Quoted(s)
}
