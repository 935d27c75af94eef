package dsn

import (
	"bufio"
	"fmt"
	"strings"
	"time"
)

// writeText writes the human-readable part, in the words of Postfix's
// default bounce templates (bounce(5)) so that people and scripts that know
// them recognise it.
func (r *Report) writeText(w *bufio.Writer) {
	fmt.Fprintf(w, "This is the mail system at host %s.\n\n", r.Hostname)
	switch r.Kind {
	case Delay:
		w.WriteString("####################################################################\n")
		w.WriteString("# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n")
		w.WriteString("####################################################################\n\n")
		fmt.Fprintf(w, "Your message could not be delivered for more than %s.\n", humanDuration(r.DelayedFor))
		if !r.RetryUntil.IsZero() && !r.Arrival.IsZero() {
			fmt.Fprintf(w, "It will be retried until it is %s old.\n", humanDuration(r.RetryUntil.Sub(r.Arrival)))
		}
		w.WriteString("\nFor further assistance, please send mail to postmaster.\n\n")
		w.WriteString("If you do so, please include this problem report. You can\n")
		w.WriteString("delete your own text from the attached returned message.\n")
	case Success:
		w.WriteString("Your message was successfully delivered to the destination(s)\n")
		w.WriteString("listed below. If the message was delivered to mailbox you will\n")
		w.WriteString("receive no further notifications. Otherwise you may still receive\n")
		w.WriteString("notifications of mail delivery errors from other systems.\n")
	case PostmasterCopy:
		w.WriteString("Enclosed is the message delivery report that could not be\n")
		w.WriteString("delivered to its sender, or a copy of a message from the null\n")
		w.WriteString("sender that could not be delivered.\n")
	default:
		w.WriteString("I'm sorry to have to inform you that your message could not\n")
		w.WriteString("be delivered to one or more recipients. It's attached below.\n\n")
		w.WriteString("For further assistance, please send mail to postmaster.\n\n")
		w.WriteString("If you do so, please include this problem report. You can\n")
		w.WriteString("delete your own text from the attached returned message.\n")
	}
	w.WriteString("\n                   The mail system\n")
	for _, rc := range r.Recipients {
		w.WriteString("\n<")
		w.WriteString(headerValue(rc.Address))
		w.WriteString(">")
		if rc.Original != "" && !strings.EqualFold(rc.Original, rc.Address) {
			w.WriteString(" (expanded from <" + headerValue(rc.Original) + ">)")
		}
		w.WriteString(": " + headerValue(rc.Text) + "\n")
	}
}

// humanDuration says a delay as Postfix's templates do: "4 hour(s)",
// "5 day(s)".
func humanDuration(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d day(s)", d/(24*time.Hour))
	case d >= time.Hour:
		return fmt.Sprintf("%d hour(s)", d/time.Hour)
	case d >= time.Minute:
		return fmt.Sprintf("%d minute(s)", d/time.Minute)
	}
	return fmt.Sprintf("%d second(s)", d/time.Second)
}

// writeStatus writes the message/delivery-status part (RFC 3464 §2.2, §2.3).
func (r *Report) writeStatus(w *bufio.Writer) {
	fmt.Fprintf(w, "Reporting-MTA: dns; %s\n", r.Hostname)
	fmt.Fprintf(w, "X-Mailhorn-Queue-ID: %s\n", r.QueueID)
	fmt.Fprintf(w, "X-Mailhorn-Sender: %s; %s\n", addrType(r.Sender), headerValue(r.Sender))
	if r.EnvID != "" {
		fmt.Fprintf(w, "Original-Envelope-Id: %s\n", headerValue(r.EnvID))
	}
	if !r.Arrival.IsZero() {
		fmt.Fprintf(w, "Arrival-Date: %s\n", r.Arrival.Format(time.RFC1123Z))
	}
	for _, rc := range r.Recipients {
		w.WriteString("\n")
		fmt.Fprintf(w, "Final-Recipient: %s; %s\n", addrType(rc.Address), headerValue(rc.Address))
		if orcpt := originalRecipient(rc); orcpt != "" {
			fmt.Fprintf(w, "Original-Recipient: %s\n", orcpt)
		}
		fmt.Fprintf(w, "Action: %s\n", r.action())
		fmt.Fprintf(w, "Status: %s\n", statusOr(rc.Status, r.Kind))
		if rc.RemoteMTA != "" {
			fmt.Fprintf(w, "Remote-MTA: dns; %s\n", headerValue(rc.RemoteMTA))
		}
		diag := rc.Diagnostic
		if diag == "" && rc.Text != "" {
			diag = "X-Mailhorn; " + rc.Text
		}
		if diag != "" {
			fmt.Fprintf(w, "Diagnostic-Code: %s\n", headerValue(diag))
		}
		if !rc.LastAttempt.IsZero() {
			fmt.Fprintf(w, "Last-Attempt-Date: %s\n", rc.LastAttempt.Format(time.RFC1123Z))
		}
		if r.Kind == Delay && !r.RetryUntil.IsZero() {
			fmt.Fprintf(w, "Will-Retry-Until: %s\n", r.RetryUntil.Format(time.RFC1123Z))
		}
	}
}

func (r *Report) action() string {
	switch r.Kind {
	case Delay:
		return "delayed"
	case Success:
		return "delivered"
	}
	return "failed"
}

// statusOr fills in a status the agent did not give.
func statusOr(s string, k Kind) string {
	if s != "" {
		return s
	}
	switch k {
	case Delay:
		return "4.0.0"
	case Success:
		return "2.0.0"
	}
	return "5.0.0"
}

// originalRecipient is the Original-Recipient field: the ORCPT the client
// gave, else, as Postfix does, the address before rewriting when it differs.
func originalRecipient(rc Recipient) string {
	if typ, addr, ok := strings.Cut(rc.ORCPT, ";"); ok && strings.TrimSpace(addr) != "" {
		return strings.TrimSpace(headerValue(typ)) + "; " + strings.TrimSpace(headerValue(addr))
	}
	if rc.Original != "" && rc.Original != rc.Address {
		return addrType(rc.Original) + "; " + headerValue(rc.Original)
	}
	return ""
}

func addrType(a string) string {
	if isASCII([]byte(a)) {
		return "rfc822"
	}
	return "utf-8"
}
