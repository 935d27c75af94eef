package smtpd

import (
	"bufio"
	"errors"
	"io"
)

// ErrBareLF is returned by DataReader in BareNewlineReject mode when a
// content line ends in a bare <LF>.
var ErrBareLF = errors.New("bare <LF> received")

// DataReader reads the content that follows DATA (RFC 5321 §4.1.1.4):
// lines are dot-unstuffed (§4.5.2) and given with "\n" line endings, and
// io.EOF comes at the end-of-data line. It never holds more than one
// buffer of the client's input.
//
// Only <CR><LF>.<CR><LF> ends the data (unless the mode is
// BareNewlineAllow): "." on a line whose line ending or whose preceding
// line ending is a bare <LF> or a bare <CR> is content. That closes the
// SMTP smuggling hole, where a server that ends DATA on <LF>.<LF> reads as
// a second message what the next server takes for part of the first.
//
// A connection that ends before the end-of-data line gives
// io.ErrUnexpectedEOF; other read errors (a timeout) are returned as is.
type DataReader struct {
	r        *bufio.Reader
	mode     BareNewline
	buf      []byte // scratch for out
	out      []byte // produced, not yet read
	bol      bool   // next input starts a line
	prevCRLF bool   // the previous line ended in <CR><LF> (true at the start)
	heldCR   bool   // a fragment ended in <CR>: is it half of a <CR><LF>?
	err      error  // io.EOF once done
	size     int64  // content size counting line endings as <CR><LF>
	raw      int64  // octets read from the client
}

// NewDataReader starts reading content from r.
func NewDataReader(r *bufio.Reader, mode BareNewline) *DataReader {
	return &DataReader{r: r, mode: mode, bol: true, prevCRLF: true}
}

// Size is the content size so far, line endings counted as two octets, as
// message_size_limit counts them.
func (d *DataReader) Size() int64 { return d.size }

// Raw is the number of octets read from the client so far.
func (d *DataReader) Raw() int64 { return d.raw }

// Done tells whether the end-of-data line has been read.
func (d *DataReader) Done() bool { return d.err == io.EOF }

func (d *DataReader) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		d.fill()
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

// fill reads one line, or one buffer-full of a long line, into out.
func (d *DataReader) fill() {
	frag, err := d.r.ReadSlice('\n')
	d.raw += int64(len(frag))
	b := d.buf[:0]
	switch {
	case err == bufio.ErrBufferFull:
		// Part of a line too long for the buffer: never the end of data.
		// Postfix, too, treats the rest as a continuation of the line.
		if d.heldCR {
			b = append(b, '\r')
			d.heldCR = false
		}
		if d.bol && len(frag) > 0 && frag[0] == '.' {
			frag = frag[1:]
		}
		if n := len(frag); n > 0 && frag[n-1] == '\r' {
			frag = frag[:n-1]
			d.heldCR = true
		}
		b = append(b, frag...)
		d.bol = false
		d.size += int64(len(b))
		d.out, d.buf = b, b
		return
	case err == io.EOF:
		d.err = io.ErrUnexpectedEOF
		return
	case err != nil:
		d.err = err
		return
	}
	body := frag[:len(frag)-1]
	crlf := false
	if n := len(body); n > 0 && body[n-1] == '\r' {
		crlf = true
		body = body[:n-1]
	} else if n == 0 && d.heldCR {
		crlf = true
		d.heldCR = false
	}
	if d.heldCR {
		b = append(b, '\r')
		d.heldCR = false
	}
	if d.bol && len(body) == 1 && body[0] == '.' {
		if d.mode == BareNewlineAllow || crlf && d.prevCRLF {
			d.err = io.EOF
			return
		}
	}
	if !crlf && d.mode == BareNewlineReject {
		d.err = ErrBareLF
		return
	}
	if d.bol && len(body) > 0 && body[0] == '.' {
		body = body[1:]
	}
	b = append(b, body...)
	d.size += int64(len(b)) + 2
	b = append(b, '\n')
	d.prevCRLF = crlf
	d.bol = true
	d.out, d.buf = b, b
}
