// Package message reads the structure of RFC 5322 / MIME messages for the
// IMAP server: ENVELOPE and BODYSTRUCTURE in IMAP's wire syntax (so they
// can be cached as bytes and written as they are), BODY[section] byte
// ranges, and decoded header and body text for SEARCH.
//
// The content given to it has CRLF line endings (as the store serves it),
// so offsets are those IMAP clients count with. Malformed MIME never fails
// parsing: like Dovecot, a part that cannot be understood is text/plain.
package message

import (
	"io"
	"time"
)

// Part is one MIME entity of a message, with offsets into the content.
type Part struct {
	// Offsets: the header starts at HeaderStart, the body at BodyStart
	// (after the blank line), and the part ends at End (exclusive).
	HeaderStart, BodyStart, End int64
	// Lines is the number of lines of the body (for text/* and
	// message/rfc822 BODYSTRUCTURE).
	Lines int64
	// Type and Subtype are lower-case ("text", "plain"); Params the
	// Content-Type parameters with lower-case names.
	Type, Subtype string
	Params        map[string]string
	// Parts are the children of a multipart; Message is the enclosed
	// message of a message/rfc822 (or message/global) part.
	Parts   []*Part
	Message *Part

	impl partImpl
}

// Parse reads a message's structure from r (size bytes).
func Parse(r io.ReaderAt, size int64) (*Part, error) { return parse(r, size) }

// Envelope is the IMAP ENVELOPE of a message (RFC 9051 §7.5.2) in wire
// syntax: "(date subject (from) ...)". For the top-level Part, or for a
// message/rfc822 part's Message.
func (p *Part) Envelope() []byte { return p.envelope() }

// BodyStructure is BODYSTRUCTURE (extended) or BODY (not) in wire syntax.
func (p *Part) BodyStructure(extended bool) []byte { return p.bodyStructure(extended) }

// Section names a FETCH BODY[...] section (RFC 9051 §6.4.5).
type Section struct {
	Path []int // part numbers, "1.2" = [1 2]; empty for the whole message
	// Specifier is "", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT",
	// "TEXT" or "MIME" (upper case).
	Specifier string
	Fields    []string // for HEADER.FIELDS (.NOT)
}

// ParseSection parses the inside of BODY[...] ("1.2.HEADER.FIELDS (From
// To)"); an error for bad syntax.
func ParseSection(s string) (Section, error) { return parseSection(s) }

// Extract returns the bytes of a section of the message read from r
// (whose structure p is); a section that does not exist is empty, as RFC
// 9051 wants.
func (p *Part) Extract(r io.ReaderAt, s Section) ([]byte, error) { return p.extract(r, s) }

// Header returns the decoded (RFC 2047, to UTF-8) values of every field
// called name (case-insensitive) of this part's header, read from r.
func (p *Part) Header(r io.ReaderAt, name string) ([]string, error) { return p.header(r, name) }

// HeaderText returns the whole header decoded to UTF-8 (SEARCH TEXT).
func (p *Part) HeaderText(r io.ReaderAt) (string, error) { return p.headerText(r) }

// BodyText calls fn with the decoded text (transfer encoding and charset
// undone, UTF-8) of each text/* part and enclosed message, in order, until
// fn returns false (SEARCH BODY, TEXT).
func (p *Part) BodyText(r io.ReaderAt, fn func(text string) bool) error { return p.bodyText(r, fn) }

// Date is the message's Date: header, or the zero time (SENTBEFORE...).
func (p *Part) Date(r io.ReaderAt) time.Time { return p.date(r) }
