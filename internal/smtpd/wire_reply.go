package smtpd

import (
	"bufio"
	"strconv"
	"strings"
)

// writeReply writes an SMTP reply (RFC 5321 §4.2): one line per line of
// text, "code-" on all but the last, the enhanced status code (RFC 2034)
// on each line when there is one. It does not flush: replies to pipelined
// commands go out together (RFC 2920 §3.1), see flushReader.
func writeReply(w *bufio.Writer, r *Reply) {
	lines := strings.Split(r.Text, "\n")
	for i, l := range lines {
		w.WriteString(strconv.Itoa(r.Code))
		if i < len(lines)-1 {
			w.WriteByte('-')
		} else {
			w.WriteByte(' ')
		}
		if r.DSN != "" {
			w.WriteString(r.DSN)
			if l != "" {
				w.WriteByte(' ')
			}
		}
		w.WriteString(sanitizeReply(l))
		w.WriteString("\r\n")
	}
}

// sanitizeReply keeps a reply line on one line whatever a policy or a
// client-supplied address put in it.
func sanitizeReply(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
