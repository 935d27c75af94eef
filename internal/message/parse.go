package message

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits on hostile input (see doc.go). Dovecot uses 100 nested MIME parts
// and 10,000 parts in all (message_max_nested_mime_parts and
// message_max_total_mime_parts); we take the same numbers. Deeper or further
// entities are kept as opaque leaves, their bytes still counted.
const (
	MaxDepth  = 100
	MaxParts  = 10000
	MaxHeader = 256 << 10
	// maxBoundary bounds a multipart boundary; RFC 2046 allows 70.
	maxBoundary = 1000
)

// lineBuf is the read buffer: a line longer than this is read in pieces,
// and only its first piece can be a boundary line.
const lineBuf = 8192

type parser struct {
	br      *bufio.Reader
	off     int64 // offset of the next unread byte
	lfs     int64 // line feeds before off
	midLine bool  // the last piece read did not end a line
	prevEOL int64 // length of the last line's terminator (0, 1 or 2)
	parts   int
	err     error // a read error (not EOF)
}

// stop tells how an entity ended: at a boundary line (level is its index in
// the stack of boundaries) or at the end of the content (level -1). at is
// where the entity's bytes end (before the line break preceding the
// boundary line) and lfs the line feeds before at.
type stop struct {
	level int
	final bool
	at    int64
	lfs   int64
}

func parse(r io.ReaderAt, size int64) (*Part, error) {
	if size < 0 {
		return nil, fmt.Errorf("parsing message: negative size %d", size)
	}
	p := &parser{br: bufio.NewReaderSize(io.NewSectionReader(r, 0, size), lineBuf)}
	root := &Part{}
	p.parts = 1
	p.entity(root, nil, 0, false, true)
	if p.err != nil {
		return nil, fmt.Errorf("parsing message: %w", p.err)
	}
	return root, nil
}

// line reads the next line (or piece of a long line). start tells whether
// it begins a line. It returns nil at the end of the content.
func (p *parser) line() (b []byte, start bool) {
	if p.err != nil {
		return nil, false
	}
	b, err := p.br.ReadSlice('\n')
	if err != nil && !errors.Is(err, bufio.ErrBufferFull) && !errors.Is(err, io.EOF) {
		p.err = err
		return nil, false
	}
	if len(b) == 0 {
		return nil, false
	}
	start = !p.midLine
	p.off += int64(len(b))
	if b[len(b)-1] == '\n' {
		p.lfs++
		p.midLine = false
		p.prevEOL = 1
		if len(b) > 1 && b[len(b)-2] == '\r' {
			p.prevEOL = 2
		}
	} else {
		p.midLine = true
		p.prevEOL = 0
	}
	return b, start
}

// boundary tells whether line (which starts a line) is a boundary line of
// one of bounds, innermost first.
func boundary(line []byte, bounds []string) (level int, final bool) {
	if len(bounds) == 0 || len(line) < 3 || line[0] != '-' || line[1] != '-' {
		return -1, false
	}
	rest := line[2:]
	for i := len(bounds) - 1; i >= 0; i-- {
		if bytes.HasPrefix(rest, []byte(bounds[i])) {
			return i, bytes.HasPrefix(rest[len(bounds[i]):], []byte("--"))
		}
	}
	return -1, false
}

// boundaryStop is the stop for a boundary line just read, which began
// at offset lineStart.
func (p *parser) boundaryStop(level int, final bool, lineStart, lfsBefore, eolBefore int64) stop {
	at, lfs := lineStart, lfsBefore
	if eolBefore > 0 {
		at -= eolBefore
		lfs--
	}
	return stop{level: level, final: final, at: at, lfs: lfs}
}

// skip reads lines until a boundary of bounds or the end.
func (p *parser) skip(bounds []string) stop {
	return p.skipFrom(bounds, false)
}

// skipFrom is skip; afterFinal tells that the line before is a final
// boundary line ("--b--"), whose line break Dovecot leaves to the part
// it closes when an outer boundary follows at once.
func (p *parser) skipFrom(bounds []string, afterFinal bool) stop {
	for first := true; ; first = false {
		lineStart, lfsBefore, eolBefore := p.off, p.lfs, p.prevEOL
		b, start := p.line()
		if b == nil {
			return stop{level: -1, at: p.off, lfs: p.lfs}
		}
		if start {
			if level, final := boundary(b, bounds); level >= 0 {
				if first && afterFinal {
					eolBefore = 0
				}
				return p.boundaryStop(level, final, lineStart, lfsBefore, eolBefore)
			}
		}
	}
}

// entity parses one MIME entity starting at the current offset: its header,
// then its body up to a boundary of bounds or the end. message tells that
// the entity is a message (top level or enclosed), whose envelope is kept.
func (p *parser) entity(part *Part, bounds []string, depth int, digest, message bool) stop {
	part.HeaderStart = p.off
	var hdr []byte
	var st stop
	ended := false
	for {
		lineStart, lfsBefore, eolBefore := p.off, p.lfs, p.prevEOL
		b, start := p.line()
		if b == nil {
			part.BodyStart = p.off
			st, ended = stop{level: -1, at: p.off, lfs: p.lfs}, true
			break
		}
		if start {
			if level, final := boundary(b, bounds); level >= 0 {
				// The header ends without a blank line.
				st, ended = p.boundaryStop(level, final, lineStart, lfsBefore, eolBefore), true
				part.BodyStart = max(st.at, part.HeaderStart)
				break
			}
			if (len(b) == 1 && b[0] == '\n') || (len(b) == 2 && b[0] == '\r' && b[1] == '\n') {
				part.BodyStart = p.off
				break
			}
		}
		if len(hdr)+len(b) <= MaxHeader {
			hdr = append(hdr, b...)
		}
	}
	bodyLFs := p.lfs
	part.setHeader(parseFields(hdr), digest)
	if message {
		part.impl.env = envelope(parseFields(hdr))
	}
	if !ended {
		st = p.body(part, bounds, depth)
	}
	part.End = max(st.at, part.BodyStart)
	part.Lines = max(st.lfs-bodyLFs, 0)
	if part.End == part.BodyStart {
		part.Lines = 0
	}
	return st
}

// body parses an entity's body, descending into multiparts and enclosed
// messages within the limits.
func (p *parser) body(part *Part, bounds []string, depth int) stop {
	switch {
	case part.Type == "multipart":
		b := part.Params["boundary"]
		if b == "" || len(b) > maxBoundary || depth+1 > MaxDepth {
			part.impl.opaque = true
			return p.skip(bounds)
		}
		return p.multipart(part, append(bounds[:len(bounds):len(bounds)], b), depth)
	case part.isMessage():
		if depth+1 > MaxDepth || p.parts >= MaxParts {
			part.impl.opaque = true
			return p.skip(bounds)
		}
		p.parts++
		child := &Part{}
		part.Message = child
		return p.entity(child, bounds, depth+1, false, true)
	}
	return p.skip(bounds)
}

// multipart reads the preamble, the parts and the epilogue of a multipart
// whose own boundary is the last of bounds.
func (p *parser) multipart(part *Part, bounds []string, depth int) stop {
	own := len(bounds) - 1
	st := p.skip(bounds) // the preamble
	digest := part.Subtype == "digest"
	for st.level == own && !st.final {
		if p.parts >= MaxParts {
			part.impl.opaque = len(part.Parts) == 0
			break
		}
		p.parts++
		child := &Part{}
		part.Parts = append(part.Parts, child)
		st = p.entity(child, bounds, depth+1, digest, false)
	}
	if st.level == own {
		// The epilogue (or the rest, past the part limit) belongs to
		// this multipart, up to an outer boundary.
		return p.skipFrom(bounds[:own], st.final)
	}
	return st
}

// isMessage tells whether the part encloses a message: message/rfc822 or
// message/global (RFC 9051 gives both an envelope), in an identity
// transfer encoding (RFC 2046 §5.2.1).
func (part *Part) isMessage() bool {
	if part.Type != "message" || (part.Subtype != "rfc822" && part.Subtype != "global") {
		return false
	}
	switch strings.ToLower(part.impl.enc.s) {
	case "", "7bit", "8bit", "binary":
		return true
	}
	return false
}
