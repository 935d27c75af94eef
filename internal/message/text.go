package message

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// toUTF8 converts b from the named charset to UTF-8.
func toUTF8(label string, b []byte) (string, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "", "us-ascii", "ascii", "utf-8", "utf8":
		return validUTF8(b), nil
	}
	rd, err := charset.Reader(label, bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("converting from charset %q: %w", label, err)
	}
	out, err := io.ReadAll(rd)
	if err != nil {
		return "", fmt.Errorf("converting from charset %q: %w", label, err)
	}
	return validUTF8(out), nil
}

// validUTF8 returns b as a string; bytes that are not UTF-8 are taken as
// ISO-8859-1 (raw 8-bit headers are usually Latin-1 or windows-1252).
func validUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var s strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			s.WriteRune(rune(b[0]))
			b = b[1:]
			continue
		}
		s.Write(b[:n])
		b = b[n:]
	}
	return s.String()
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

// decodeHeader unfolds a raw header value and decodes its RFC 2047
// encoded words; words in unknown charsets stay as they are.
func decodeHeader(v string) string {
	v = strings.TrimSpace(noLF(v))
	if !strings.Contains(v, "=?") {
		return validUTF8([]byte(v))
	}
	d, err := wordDecoder.DecodeHeader(v)
	if err != nil {
		return validUTF8([]byte(v))
	}
	return validUTF8([]byte(d))
}

// fields reads the part's header fields from r.
func (p *Part) fields(r io.ReaderAt) ([]field, error) {
	end := min(p.BodyStart, p.HeaderStart+MaxHeader)
	hdr, err := read(r, p.HeaderStart, end)
	if err != nil {
		return nil, err
	}
	return parseFields(hdr), nil
}

func (p *Part) header(r io.ReaderAt, name string) ([]string, error) {
	fs, err := p.fields(r)
	if err != nil {
		return nil, err
	}
	var vals []string
	for _, f := range fs {
		if strings.EqualFold(f.name, name) {
			vals = append(vals, decodeHeader(f.value))
		}
	}
	return vals, nil
}

func (p *Part) headerText(r io.ReaderAt) (string, error) {
	fs, err := p.fields(r)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.name)
		b.WriteString(": ")
		b.WriteString(decodeHeader(f.value))
		b.WriteString("\n")
	}
	return b.String(), nil
}

// bodyText walks the parts in order. text/html is given as it is (tags
// included), like Dovecot without its html-to-text filter; enclosed
// messages give their decoded header, then their body.
func (p *Part) bodyText(r io.ReaderAt, fn func(string) bool) error {
	_, err := p.walkText(r, fn)
	return err
}

func (p *Part) walkText(r io.ReaderAt, fn func(string) bool) (bool, error) {
	switch {
	case p.Type == "multipart":
		for _, c := range p.Parts {
			if more, err := c.walkText(r, fn); err != nil || !more {
				return more, err
			}
		}
		return true, nil
	case p.Message != nil:
		h, err := p.Message.headerText(r)
		if err != nil {
			return false, err
		}
		if !fn(h) {
			return false, nil
		}
		return p.Message.walkText(r, fn)
	case p.Type == "text":
		raw, err := read(r, p.BodyStart, p.End)
		if err != nil {
			return false, err
		}
		s, err := toUTF8(p.Params["charset"], decodeTransfer(p.impl.enc.s, raw))
		if err != nil {
			s = validUTF8(decodeTransfer(p.impl.enc.s, raw))
		}
		return fn(s), nil
	}
	return true, nil
}

// decodeTransfer undoes a Content-Transfer-Encoding, tolerantly: bad
// base64 characters are skipped, bad quoted-printable kept as it is.
func decodeTransfer(enc string, b []byte) []byte {
	switch strings.ToLower(enc) {
	case "base64":
		clean := make([]byte, 0, len(b))
		for _, c := range b {
			if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' {
				clean = append(clean, c)
			}
		}
		if len(clean)%4 == 1 {
			clean = clean[:len(clean)-1]
		}
		out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
		n, _ := base64.RawStdEncoding.Decode(out, clean)
		return out[:n]
	case "quoted-printable":
		return decodeQP(b)
	}
	return b
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// decodeQP decodes quoted-printable (RFC 2045 §6.7): "=XX", soft line
// breaks "=\r\n"; anything else is kept.
func decodeQP(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '=' {
			out = append(out, c)
			continue
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			i += 2
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' {
			i++
			continue
		}
		if i+2 < len(b) {
			h, ok1 := unhex(b[i+1])
			l, ok2 := unhex(b[i+2])
			if ok1 && ok2 {
				out = append(out, h<<4|l)
				i += 2
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

func (p *Part) date(r io.ReaderAt) time.Time {
	vals, err := p.header(r, "Date")
	if err != nil || len(vals) == 0 {
		return time.Time{}
	}
	return parseDate(vals[0])
}

// parseDate reads an RFC 5322 date, tolerating what net/mail tolerates
// plus a trailing comment or garbage after the zone and a missing zone.
func parseDate(s string) time.Time {
	s = strings.TrimSpace(s)
	if t, err := mail.ParseDate(s); err == nil {
		return t
	}
	// Drop trailing words one by one ("... +0000 (UTC) garbage").
	f := strings.Fields(s)
	for n := len(f) - 1; n >= 4; n-- {
		if t, err := mail.ParseDate(strings.Join(f[:n], " ")); err == nil {
			return t
		}
	}
	for _, layout := range []string{"2 Jan 2006 15:04:05", "Mon, 2 Jan 2006 15:04:05", "2 Jan 2006 15:04", "Mon, 2 Jan 2006 15:04"} {
		if t, err := time.Parse(layout, strings.Join(f[:min(len(f), strings.Count(layout, " ")+1)], " ")); err == nil {
			return t
		}
	}
	return time.Time{}
}
