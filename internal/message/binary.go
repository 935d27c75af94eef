package message

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrUnknownCTE tells that a section cannot be given decoded (FETCH
// BINARY, RFC 3516 §4.2): it is a multipart, or its
// Content-Transfer-Encoding is not one this package decodes.
var ErrUnknownCTE = errors.New("unknown Content-Transfer-Encoding")

// ErrMultipartSection is the ErrUnknownCTE of a section that is a
// multipart: it has no transfer encoding of its own to undo.
var ErrMultipartSection = fmt.Errorf("section is a multipart: %w", ErrUnknownCTE)

// Encoding is the part's Content-Transfer-Encoding, lower case; "" when
// the header has none (7bit).
func (p *Part) Encoding() string { return strings.ToLower(p.impl.enc.s) }

// Binary returns the content of the part that path names (FETCH
// BINARY[path], RFC 3516) with its Content-Transfer-Encoding undone:
// base64 and quoted-printable decoded (tolerantly, as for SEARCH: bad
// base64 characters skipped, bad quoted-printable kept), 7bit, 8bit and
// binary as they are. An empty path is the whole message as it is. A part
// that does not exist is empty (nil, nil), as BODY[] answers; a multipart
// or an unknown encoding is an error wrapping ErrUnknownCTE.
func (p *Part) Binary(r io.ReaderAt, path []int) ([]byte, error) {
	if len(path) == 0 {
		return read(r, p.HeaderStart, p.End)
	}
	part := p.resolve(path)
	if part == nil {
		return nil, nil
	}
	if part.Type == "multipart" {
		return nil, fmt.Errorf("section %s: %w", pathString(path), ErrMultipartSection)
	}
	enc := part.Encoding()
	if !DecodableEncoding(enc) {
		return nil, fmt.Errorf("section %s: Content-Transfer-Encoding %q: %w", pathString(path), enc, ErrUnknownCTE)
	}
	raw, err := read(r, part.BodyStart, part.End)
	if err != nil {
		return nil, err
	}
	return DecodeTransfer(enc, raw), nil
}

// DecodableEncoding tells whether DecodeTransfer knows the (lower-case)
// Content-Transfer-Encoding enc; "" is 7bit.
func DecodableEncoding(enc string) bool {
	switch enc {
	case "", "7bit", "8bit", "binary", "base64", "quoted-printable":
		return true
	}
	return false
}

// DecodeTransfer undoes the Content-Transfer-Encoding enc (case
// insensitive) of b, tolerantly: bad base64 characters are skipped, bad
// quoted-printable is kept as it is; an identity or unknown encoding
// gives b itself.
func DecodeTransfer(enc string, b []byte) []byte { return decodeTransfer(enc, b) }

func pathString(path []int) string {
	var b strings.Builder
	for i, n := range path {
		if i > 0 {
			b.WriteByte('.')
		}
		fmt.Fprint(&b, n)
	}
	return b.String()
}

// BinaryToBase64 returns content with every part whose
// Content-Transfer-Encoding is binary re-encoded in base64, its header
// field changed to match (RFC 3516 §4.4: what APPEND receives as a
// literal8; Dovecot converts it the same way). The store keeps messages
// as lines, so the bare LFs of binary data would not come back as they
// were. changed is false, and out is content, when no part is binary.
func BinaryToBase64(content []byte) (out []byte, changed bool, err error) {
	root, err := Parse(bytes.NewReader(content), int64(len(content)))
	if err != nil {
		return nil, false, err
	}
	var parts []*Part
	var walk func(p *Part)
	walk = func(p *Part) {
		switch {
		case p.Type == "multipart":
			for _, c := range p.Parts {
				walk(c)
			}
		case p.Message != nil:
			walk(p.Message)
		case p.Encoding() == "binary":
			parts = append(parts, p)
		}
	}
	walk(root)
	if len(parts) == 0 {
		return content, false, nil
	}
	out = make([]byte, 0, len(content)*4/3+len(parts)*64)
	var at int64
	for _, p := range parts {
		out = append(out, content[at:p.HeaderStart]...)
		out = appendBase64Header(out, content[p.HeaderStart:p.BodyStart])
		out = appendBase64Lines(out, content[p.BodyStart:p.End])
		at = p.End
	}
	return append(out, content[at:]...), true, nil
}

// appendBase64Header appends a part's header with its
// Content-Transfer-Encoding field (folded lines included) replaced by
// "Content-Transfer-Encoding: base64".
func appendBase64Header(out, hdr []byte) []byte {
	skip, done := false, false
	for len(hdr) > 0 {
		line := hdr
		if i := bytes.IndexByte(hdr, '\n'); i >= 0 {
			line = hdr[:i+1]
		}
		hdr = hdr[len(line):]
		if line[0] != ' ' && line[0] != '\t' {
			name, _, ok := bytes.Cut(line, []byte(":"))
			skip = ok && strings.EqualFold(strings.TrimRight(string(name), " \t"), "Content-Transfer-Encoding")
			if skip && !done {
				out = append(out, "Content-Transfer-Encoding: base64\r\n"...)
				done = true
			}
		}
		if !skip {
			out = append(out, line...)
		}
	}
	return out
}

// appendBase64Lines appends b in base64, in lines of 76 characters
// (RFC 2045 §6.8) separated by CRLF.
func appendBase64Lines(out, b []byte) []byte {
	const perLine = 57 // bytes giving 76 characters
	for i := 0; i < len(b); i += perLine {
		if i > 0 {
			out = append(out, "\r\n"...)
		}
		out = base64.StdEncoding.AppendEncode(out, b[i:min(i+perLine, len(b))])
	}
	return out
}
