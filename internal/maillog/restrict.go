package maillog

// Restriction is what an SMTP server restriction did besides permit and
// reject, logged as Postfix's smtpd does (log_whatsup):
//
//	NOQUEUE: hold: RCPT from name[addr]: <rcpt>: Recipient address triggers HOLD action; from=<s> to=<r> proto=ESMTP helo=<h>
//
// What is "reject_warning", "hold", "discard", "redirect", "warn", "info",
// ...; Stage the command ("RCPT", "MAIL", "CONNECT", "END-OF-MESSAGE").
// Sender is logged when InMail, Recipient when not "", Proto and Helo when
// not "".
type Restriction struct {
	QueueID   string // "" logs NOQUEUE
	What      string
	Stage     string
	Client    string // name[addr]
	Text      string
	Sender    string
	InMail    bool
	Recipient string
	Proto     string
	Helo      string
}

// Restriction logs a restriction event.
func (s *Service) Restriction(r Restriction) {
	id := r.QueueID
	if id == "" {
		id = "NOQUEUE"
	}
	msg := id + ": " + r.What + ": " + r.Stage + " from " + r.Client + ": " + r.Text + ";"
	if r.InMail {
		msg += " from=<" + r.Sender + ">"
	}
	if r.Recipient != "" {
		msg += " to=<" + r.Recipient + ">"
	}
	if r.Proto != "" {
		msg += " proto=" + r.Proto
	}
	if r.Helo != "" {
		msg += " helo=<" + r.Helo + ">"
	}
	s.l.line(s.tag, msg)
}
