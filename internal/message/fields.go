package message

import (
	"bytes"
	"time"
)

// These functions work on a message's header block alone (its bytes up to
// and including the blank line that ends it), without a MIME parse: SEARCH
// reads one field of many messages, and FETCH ENVELOPE needs nothing
// else. They give the same answers as Parse on the header block followed
// by Part.Header, Part.Envelope or Part.Date on the top-level part.

// HeaderEnd returns the length of the header block at the start of b: up
// to and including its blank line ("\r\n" or "\n" alone on a line), or -1
// when b holds no blank line.
func HeaderEnd(b []byte) int {
	for pos := 0; pos < len(b); {
		if b[pos] == '\n' {
			return pos + 1
		}
		if b[pos] == '\r' && pos+1 < len(b) && b[pos+1] == '\n' {
			return pos + 2
		}
		i := bytes.IndexByte(b[pos:], '\n')
		if i < 0 {
			return -1
		}
		pos += i + 1
	}
	return -1
}

// EachField calls fn with the name and the decoded value (RFC 2047 words
// decoded, unfolded, UTF-8) of every field of the header block hdr, in
// order, until fn returns false. want, when not nil, chooses the fields by
// name before their value is decoded. Only the first MaxHeader bytes of
// hdr are read, as Part.Header does. The name given to want and fn is only
// valid during the call.
func EachField(hdr []byte, want func(name []byte) bool, fn func(name []byte, value string) bool) {
	eachRawField(hdr, want, func(name, raw []byte) bool {
		return fn(name, decodeHeader(string(raw)))
	})
}

// eachRawField is EachField with the raw values, as parseFields gives
// them (line breaks of folding kept, no decoding).
func eachRawField(hdr []byte, want func(name []byte) bool, fn func(name, raw []byte) bool) {
	if len(hdr) > MaxHeader {
		hdr = hdr[:MaxHeader]
	}
	// The rules of parseFields, without copying fields nobody wants: a
	// field's value is its first line after the colon and white space,
	// plus the continuation lines after it, line breaks kept until the
	// end, where trailing CR and LF are removed. A line that is neither a
	// field nor a continuation is skipped, and a continuation after it
	// still belongs to the field before it (then the value is copied).
	var (
		name       []byte
		open       bool // a field has been seen (continuations go to it)
		wanted     bool
		start, end int    // hdr[start:end] is the value so far
		joined     []byte // the value when it is not contiguous
	)
	emit := func() bool {
		if !open || !wanted {
			return true
		}
		v := hdr[start:end]
		if joined != nil {
			v = joined
		}
		return fn(name, bytes.TrimRight(v, "\r\n"))
	}
	for pos := 0; pos < len(hdr); {
		ls := pos
		le := len(hdr)
		if i := bytes.IndexByte(hdr[pos:], '\n'); i >= 0 {
			le = pos + i + 1
		}
		pos = le
		line := hdr[ls:le]
		if line[0] == ' ' || line[0] == '\t' {
			if open && wanted {
				switch {
				case joined == nil && ls == end:
					end = le
				default:
					if joined == nil {
						joined = append([]byte(nil), hdr[start:end]...)
					}
					joined = append(joined, line...)
				}
			}
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		n := bytes.TrimRight(line[:colon], " \t")
		if len(n) == 0 || bytes.ContainsAny(n, " \t") {
			continue
		}
		if !emit() {
			return
		}
		name, open, joined = n, true, nil
		wanted = want == nil || want(n)
		start, end = ls+colon+1, le
		for start < end && (hdr[start] == ' ' || hdr[start] == '\t') {
			start++
		}
	}
	emit()
}

// FieldValues returns the decoded values of every field called name
// (case-insensitive) of the header block hdr: Part.Header without a parse.
func FieldValues(hdr []byte, name string) []string {
	var vals []string
	want := []byte(name)
	EachField(hdr, func(n []byte) bool { return bytes.EqualFold(n, want) },
		func(_ []byte, v string) bool {
			vals = append(vals, v)
			return true
		})
	return vals
}

// HeaderEnvelope returns the ENVELOPE of a message whose header block is
// hdr, as Parse(hdr).Envelope() would.
func HeaderEnvelope(hdr []byte) []byte {
	if len(hdr) >= MaxHeader {
		// Parse keeps only the lines that fit: take its word for it.
		p, err := Parse(bytes.NewReader(hdr), int64(len(hdr)))
		if err != nil {
			return envelope(nil)
		}
		return p.Envelope()
	}
	var fs []field
	eachRawField(hdr, func(name []byte) bool {
		for _, n := range envelopeFields {
			if bytes.EqualFold(name, []byte(n)) {
				return true
			}
		}
		return false
	}, func(name, raw []byte) bool {
		fs = append(fs, field{name: string(name), value: string(raw)})
		return true
	})
	return envelope(fs)
}

// envelopeFields are the fields envelope reads.
var envelopeFields = [...]string{"Date", "Subject", "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "In-Reply-To", "Message-ID"}

// ParseDate reads a Date: field's decoded value as Part.Date does; the
// zero time when it cannot.
func ParseDate(s string) time.Time { return parseDate(s) }
