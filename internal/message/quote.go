package message

import (
	"strconv"
	"strings"
)

// appendString appends s as an IMAP string: quoted when possible, a
// literal when s holds 8-bit bytes, CR, LF or NUL.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || c == '\r' || c == '\n' || c == 0 {
			b = append(b, '{')
			b = strconv.AppendInt(b, int64(len(s)), 10)
			b = append(b, "}\r\n"...)
			return append(b, s...)
		}
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// appendNString appends s, or NIL when it is absent.
func appendNString(b []byte, s string, ok bool) []byte {
	if !ok {
		return append(b, "NIL"...)
	}
	return appendString(b, s)
}

// noLF removes CR and LF from a header value (unfolding it the way
// Dovecot does: the white space after the line break stays).
func noLF(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\r' && s[i] != '\n' {
			b = append(b, s[i])
		}
	}
	return string(b)
}
