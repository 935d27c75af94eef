package cleanup

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"mailhorn/internal/queue"
)

// submission is one Submit in progress.
type submission struct {
	c       *Cleanup
	ctx     context.Context
	m       *Message
	arrival time.Time
	sender  string
	rcpts   []queue.Recipient
	rc      rewriteContext
	st      headerState

	// The header block is held in pending until it is complete or larger
	// than header_size_limit; only then is the queue file created, so that
	// its envelope can say whether the message must bounce for too many
	// hops.
	pending bytes.Buffer
	w       *queue.Writer
	bw      *bufio.Writer // buffers the content written to w
	out     *sizeWriter   // writes to bw
	in      *countReader  // the content as received, for EndOfData's size
}

// bodyStart is how the header block ended.
type bodyStart struct {
	kind     int    // noBody, blankLine or firstLine
	line     []byte // firstLine: the line that is not a header
	complete bool   // firstLine: line holds the whole line
}

const (
	noBody = iota
	blankLine
	firstLine
)

func (s *submission) run(content io.Reader) error {
	if s.m.ReceivedFor != nil {
		s.st.hops++ // ours, written by create
	} else if s.m.Received != "" {
		rcvd := strings.ReplaceAll(s.m.Received, "\r\n", "\n")
		if err := s.header([]byte(rcvd)); err != nil {
			return err
		}
	}
	// Headers that smtpd restrictions PREPEND come right after our
	// Received: header, and are processed like the client's own.
	for _, h := range s.m.Prepend {
		if err := s.header([]byte(strings.ReplaceAll(h, "\r\n", "\n"))); err != nil {
			return err
		}
	}
	lr := s.c.bufs.reader(content)
	defer s.c.bufs.putReader(lr)
	defer func() {
		if s.bw != nil {
			s.c.bufs.putWriter(s.bw)
		}
	}()
	start, err := s.headers(lr)
	if err != nil {
		return err
	}
	if err := s.endHeaders(start.kind != noBody); err != nil {
		return err
	}
	if start.kind == firstLine {
		if _, err := s.out.Write(start.line); err != nil {
			return err
		}
		if start.complete || isLastPiece(lr) {
			if _, err := s.out.Write([]byte{'\n'}); err != nil {
				return err
			}
		}
	}
	if start.kind != noBody {
		if err := copyBody(s.out, lr, s.ctx.Err); err != nil {
			return err
		}
	}
	if err := s.bw.Flush(); err != nil {
		return err
	}
	if s.m.EndOfData != nil && s.in != nil {
		if e := s.m.EndOfData(s.in.n); e != nil {
			return e
		}
	}
	s.w.EndContent()
	if err := s.w.Commit(); err != nil {
		s.w = nil // Commit removed the file
		return err
	}
	return nil
}

// headers reads the primary header block, up to the empty line or the
// first line that is not a header, and processes each header field.
func (s *submission) headers(lr *lineReader) (bodyStart, error) {
	limit := s.c.opt.HeaderSizeLimit
	var field, lineBuf []byte
	truncated := false
	flush := func() error {
		if field == nil {
			return nil
		}
		err := s.header(field)
		field, truncated = nil, false
		return err
	}
	for {
		line, complete, err := lr.line(lineBuf, limit)
		lineBuf = line[:0]
		if errors.Is(err, io.EOF) {
			return bodyStart{kind: noBody}, flush()
		}
		if err != nil {
			return bodyStart{}, readError{err}
		}
		if err := s.ctx.Err(); err != nil {
			return bodyStart{}, err
		}
		switch {
		case complete && len(line) == 0:
			return bodyStart{kind: blankLine}, flush()
		case field != nil && (line[0] == ' ' || line[0] == '\t'):
			// A folded continuation. Past header_size_limit the excess is
			// discarded, as Postfix does.
			if !truncated {
				room := limit - len(field) - 1
				if room >= len(line) {
					field = append(append(field, '\n'), line...)
				} else {
					if room > 0 {
						field = append(append(field, '\n'), line[:room]...)
					}
					truncated = true
				}
			}
		case HeaderName(line) != "":
			if err := flush(); err != nil {
				return bodyStart{}, err
			}
			if len(line) > limit {
				line, truncated = line[:limit], true
			}
			field = append([]byte(nil), line...)
		default:
			// Not a header: the body starts here. Like Postfix, an empty
			// line is inserted before it to keep the message well-formed.
			return bodyStart{kind: firstLine, line: line, complete: complete}, flush()
		}
		if !complete {
			if err := discardLine(lr); err != nil {
				return bodyStart{}, err
			}
		}
	}
}

// discardLine skips the rest of a line.
func discardLine(lr *lineReader) error {
	for {
		_, eol, err := lr.piece()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return readError{err}
		}
		if eol {
			return nil
		}
	}
}

// header processes one header field and passes it on.
func (s *submission) header(field []byte) error {
	out, err := s.c.header(s.ctx, &s.st, s.rc, field)
	if err != nil || out == nil {
		return err
	}
	if err := s.emit(out); err != nil {
		return err
	}
	return s.emit([]byte{'\n'})
}

// emit writes header bytes: into pending until the queue file exists.
func (s *submission) emit(p []byte) error {
	if s.w != nil {
		_, err := s.out.Write(p)
		return err
	}
	s.pending.Write(p)
	if s.pending.Len() > s.c.opt.HeaderSizeLimit {
		return s.create()
	}
	return nil
}

// create creates the queue file, with the envelope, and writes what is
// pending.
func (s *submission) create() error {
	attrs := s.m.Attrs
	if lim := s.c.opt.HopcountLimit; lim > 0 && s.st.hops >= lim {
		attrs = append(attrs[:len(attrs):len(attrs)], queue.Attr{Name: BounceAttr, Value: "5.4.6 Too many hops"})
	}
	w, err := s.c.q.Create(&queue.Envelope{Arrival: s.arrival, Sender: s.sender, Attrs: attrs})
	if err != nil {
		return err
	}
	s.w = w
	if s.m.OnQueueID != nil {
		s.m.OnQueueID(w.ID)
	}
	var ours []byte
	if s.m.ReceivedFor != nil {
		ours = []byte(strings.ReplaceAll(s.m.ReceivedFor(w.ID), "\r\n", "\n") + "\n")
	}
	if len(attrs) > len(s.m.Attrs) {
		s.c.warn("%s: hopcount exceeded (%d Received: headers): message will bounce", w.ID, s.st.hops)
	}
	for _, r := range s.rcpts {
		w.AddRecipient(r)
	}
	s.bw = s.c.bufs.writer(w.Content())
	s.out = &sizeWriter{w: s.bw, n: w.Size(), limit: s.c.opt.MessageSizeLimit}
	if _, err := s.out.Write(ours); err != nil {
		return err
	}
	_, err = s.out.Write(s.pending.Bytes())
	s.pending = bytes.Buffer{}
	return err
}

// endHeaders creates the queue file if the header block was small enough
// to be held, adds the missing headers, logs the message IDs, and writes
// the empty line that separates the body.
func (s *submission) endHeaders(body bool) error {
	if s.w == nil {
		if err := s.create(); err != nil {
			return err
		}
	}
	id := s.w.ID
	added, msgid := s.c.missingHeaders(&s.st, s.rc, s.m, s.sender, id, s.arrival)
	for _, v := range s.st.messageIDs {
		s.c.logMessageID(id, v)
	}
	for _, v := range s.st.resentIDs {
		s.c.logf("%s: resent-message-id=%s", id, v)
	}
	if msgid != "" {
		if s.st.resent {
			s.c.logf("%s: resent-message-id=%s", id, msgid)
		} else {
			s.c.logMessageID(id, msgid)
		}
	}
	if !s.st.seen["message-id"] && (msgid == "" || s.st.resent) {
		s.c.logMessageID(id, "<>")
	}
	if _, err := io.WriteString(s.out, added); err != nil {
		return err
	}
	if body {
		_, err := s.out.Write([]byte{'\n'})
		return err
	}
	return nil
}

func (c *Cleanup) logMessageID(id, msgid string) {
	if c.log != nil {
		c.log.MessageID(id, msgid)
	}
}
