package smtp

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"

	"mailhorn/internal/address"
	"mailhorn/internal/deliver"
	"mailhorn/internal/queue"
)

// outcome is one recipient's state during a transaction.
type outcome struct {
	done   bool // decided
	status deliver.Status
	dsn    string
	text   string
	remote string
}

// transaction sends one message to the recipients on s (RFC 5321 §3.3,
// RFC 2920 pipelining, RFC 2033 LMTP). It fills out for every recipient
// it decides; those it leaves undecided are deferred by the caller with
// the returned error's text.
func (s *session) transaction(o *Options, req *deliver.Request, out []outcome) *stageError {
	mailArgs, err := s.mailParams(req)
	if err != nil {
		return err
	}
	rcpts := make([]string, len(req.Recipients))
	for i, r := range req.Recipients {
		rcpts[i] = "RCPT TO:<" + r.Address + ">" + s.rcptParams(r)
	}
	mail := "MAIL FROM:<" + req.Sender + ">" + mailArgs

	pipelined := s.ext.has("PIPELINING")
	// Replies, in order: MAIL, each RCPT, DATA.
	var mailRep Reply
	rcptRep := make([]Reply, len(rcpts))
	if pipelined {
		s.setWriteTimeout(o.Timeouts.Mail)
		if err := s.send(append(append([]string{mail}, rcpts...), "DATA")...); err != nil {
			return s.ioFailure(err, "sending MAIL FROM")
		}
		var err error
		if mailRep, err = s.read(o.Timeouts.Mail); err != nil {
			return s.ioFailure(err, "receiving the MAIL FROM reply")
		}
		if mailRep.Code/100 != 2 {
			// The RCPT and DATA replies are consequences: read them to
			// stay in step; a server that hangs up now still decided.
			e := s.rejected(mailRep, "MAIL FROM")
			for range len(rcpts) + 1 {
				if _, err := s.read(o.Timeouts.Rcpt); err != nil {
					e.fatal, s.broken = true, true
					break
				}
			}
			return e
		}
		for i := range rcpts {
			if rcptRep[i], err = s.read(o.Timeouts.Rcpt); err != nil {
				return s.ioFailure(err, "receiving the RCPT TO reply")
			}
		}
	} else {
		s.setWriteTimeout(o.Timeouts.Mail)
		if err := s.send(mail); err != nil {
			return s.ioFailure(err, "sending MAIL FROM")
		}
		var err error
		if mailRep, err = s.read(o.Timeouts.Mail); err != nil {
			return s.ioFailure(err, "receiving the MAIL FROM reply")
		}
		if mailRep.Code/100 != 2 {
			return s.rejected(mailRep, "MAIL FROM")
		}
		for i, c := range rcpts {
			s.setWriteTimeout(o.Timeouts.Rcpt)
			if err := s.send(c); err != nil {
				return s.ioFailure(err, "sending RCPT TO")
			}
			if rcptRep[i], err = s.read(o.Timeouts.Rcpt); err != nil {
				return s.ioFailure(err, "receiving the RCPT TO reply")
			}
			if rcptRep[i].Code == 421 {
				break
			}
		}
	}
	var accepted []int
	for i, rep := range rcptRep {
		switch {
		case rep.Code == 0:
			// Not sent: an earlier 421 ended the session.
		case rep.Code/100 == 2:
			accepted = append(accepted, i)
		default:
			e := s.rejected(rep, "RCPT TO")
			out[i] = outcome{done: true, status: deliver.StatusOf(e.dsn), dsn: e.dsn, text: e.text, remote: e.remote}
		}
	}
	if s.broken {
		return &stageError{dsn: "4.4.2", fatal: true, text: "lost connection with " + s.t.hostLabel() + " while sending RCPT TO"}
	}
	if !pipelined && len(accepted) > 0 {
		s.setWriteTimeout(o.Timeouts.DataInit)
		if err := s.send("DATA"); err != nil {
			return s.ioFailure(err, "sending DATA")
		}
	}
	if pipelined || len(accepted) > 0 {
		rep, err := s.read(o.Timeouts.DataInit)
		if err != nil {
			return s.ioFailure(err, "receiving the DATA reply")
		}
		if len(accepted) == 0 {
			if rep.Code == 354 {
				// A server that says 354 with no recipient: end the
				// empty message and let RSET clean up.
				s.send(".")
				s.read(o.Timeouts.DataDone)
			}
			return nil
		}
		if rep.Code != 354 {
			return s.rejected(rep, "DATA")
		}
	} else {
		return nil
	}
	f, content, ferr := req.OpenContent()
	if ferr != nil {
		s.broken = true
		return &stageError{dsn: "4.3.0", fatal: true, text: fmt.Sprintf("cannot read the message: %v", ferr)}
	}
	w := bufio.NewWriterSize(deadlineWriter{c: s.conn, d: o.Timeouts.DataXfer}, 64<<10)
	werr := writeContent(w, content)
	f.Close()
	if werr != nil {
		return s.ioFailure(werr, "sending message body")
	}
	s.setWriteTimeout(0)
	if !s.lmtp {
		rep, err := s.read(o.Timeouts.DataDone)
		if err != nil {
			return s.ioFailure(err, "sending end of data -- message may be sent more than once")
		}
		for _, i := range accepted {
			out[i] = s.final(rep)
		}
		if rep.Code == 421 {
			s.broken = true
		}
		return nil
	}
	// LMTP: one reply per accepted recipient, in order (RFC 2033 §4.2).
	for _, i := range accepted {
		rep, err := s.read(o.Timeouts.DataDone)
		if err != nil {
			return s.ioFailure(err, "receiving the reply for "+req.Recipients[i].Address+" after end of data")
		}
		out[i] = s.final(rep)
	}
	return nil
}

// final is a recipient's outcome from the reply to the end of data.
func (s *session) final(rep Reply) outcome {
	if rep.Code/100 == 2 {
		return outcome{done: true, status: deliver.Sent, dsn: rep.DSN(), text: rep.String(), remote: "smtp; " + rep.String()}
	}
	e := s.rejected(rep, "end of DATA")
	return outcome{done: true, status: deliver.StatusOf(e.dsn), dsn: e.dsn, text: e.text, remote: e.remote}
}

// mailParams are the MAIL FROM parameters the server can take: SIZE
// (RFC 1870), BODY (RFC 6152, 3030), SMTPUTF8 (RFC 6531), RET and ENVID
// (RFC 3461). It refuses what the server cannot receive.
func (s *session) mailParams(req *deliver.Request) (string, *stageError) {
	var b strings.Builder
	if v, ok := s.ext["SIZE"]; ok {
		if limit, err := strconv.ParseInt(v, 10, 64); err == nil && limit > 0 && req.ContentSize > limit {
			return "", &stageError{dsn: "5.3.4", text: fmt.Sprintf("message size %d exceeds size limit %d of server %s", req.ContentSize, limit, s.t.hostLabel())}
		}
		fmt.Fprintf(&b, " SIZE=%d", req.ContentSize)
	}
	switch strings.ToUpper(req.Body) {
	case "8BITMIME":
		// Without 8BITMIME at the server the content goes as it is, as
		// Postfix does with disable_mime_output_conversion=yes.
		if s.ext.has("8BITMIME") {
			b.WriteString(" BODY=8BITMIME")
		}
	case "BINARYMIME":
		return "", &stageError{dsn: "5.6.3", text: fmt.Sprintf("host %s: BINARYMIME content cannot be sent with DATA", s.t.hostLabel())}
	}
	if req.SMTPUTF8 {
		if s.ext.has("SMTPUTF8") {
			b.WriteString(" SMTPUTF8")
		} else if needsUTF8(req) {
			return "", &stageError{dsn: "5.6.7", text: fmt.Sprintf("SMTPUTF8 is required, but was not offered by host %s", s.t.hostLabel())}
		}
	}
	if s.ext.has("DSN") {
		if req.Ret != "" {
			b.WriteString(" RET=" + req.Ret)
		}
		if req.EnvID != "" {
			b.WriteString(" ENVID=" + address.EncodeXtext(req.EnvID))
		}
	}
	return b.String(), nil
}

// needsUTF8 tells whether an envelope address is not ASCII: such mail
// cannot go to a server without SMTPUTF8. (Headers are not examined.)
func needsUTF8(req *deliver.Request) bool {
	if !isASCII(req.Sender) {
		return true
	}
	for _, r := range req.Recipients {
		if !isASCII(r.Address) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// rcptParams are the DSN parameters of RCPT TO (RFC 3461 §4.1, §4.2).
func (s *session) rcptParams(r deliver.Recipient) string {
	if !s.ext.has("DSN") {
		return ""
	}
	var b strings.Builder
	if r.Notify != 0 {
		var n []string
		if r.Notify&queue.NotifyNever != 0 {
			n = []string{"NEVER"}
		} else {
			for _, f := range []struct {
				bit  byte
				name string
			}{{queue.NotifySuccess, "SUCCESS"}, {queue.NotifyFailure, "FAILURE"}, {queue.NotifyDelay, "DELAY"}} {
				if r.Notify&f.bit != 0 {
					n = append(n, f.name)
				}
			}
		}
		b.WriteString(" NOTIFY=" + strings.Join(n, ","))
	}
	if r.Original != "" {
		b.WriteString(" ORCPT=" + orcpt(r.Original))
	}
	return b.String()
}

// orcpt encodes an original recipient for ORCPT: "rfc822;" and xtext for
// ASCII (RFC 3461 §4.2), "utf-8;" and utf-8-addr-xtext otherwise (RFC
// 6533 §3: non-ASCII and "\\" as \x{HEX}).
func orcpt(addr string) string {
	if isASCII(addr) {
		return "rfc822;" + address.EncodeXtext(addr)
	}
	var b strings.Builder
	b.WriteString("utf-8;")
	for _, r := range addr {
		if r >= 0x80 || r == '\\' {
			fmt.Fprintf(&b, "\\x{%X}", r)
			continue
		}
		b.WriteString(address.EncodeXtext(string(r)))
	}
	return b.String()
}
