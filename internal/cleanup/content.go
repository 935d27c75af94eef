package cleanup

import (
	"bufio"
	"errors"
	"io"
	"sync"
)

// lineReader reads content in pieces of at most its buffer size, with line
// endings normalised: CRLF and LF end a line, a bare CR is data. A long
// line comes in several pieces, so that no line is ever held in memory
// whole.
type lineReader struct {
	br *bufio.Reader
}

// Buffer sizes: reads in pieces of up to 32 KB; writes to the queue file
// (each one a system call) in blocks of 32 KB.
const (
	readBufSize  = 32 << 10
	writeBufSize = 32 << 10
)

// bufPool keeps the read and write buffers of finished submissions for the
// next ones, so that a busy server does not allocate them per message.
type bufPool struct{ readers, writers sync.Pool }

func (bp *bufPool) reader(r io.Reader) *lineReader {
	if br, ok := bp.readers.Get().(*bufio.Reader); ok {
		br.Reset(r)
		return &lineReader{br: br}
	}
	return &lineReader{br: bufio.NewReaderSize(r, readBufSize)}
}

func (bp *bufPool) putReader(lr *lineReader) {
	lr.br.Reset(nil)
	bp.readers.Put(lr.br)
}

func (bp *bufPool) writer(w io.Writer) *bufio.Writer {
	if bw, ok := bp.writers.Get().(*bufio.Writer); ok {
		bw.Reset(w)
		return bw
	}
	return bufio.NewWriterSize(w, writeBufSize)
}

func (bp *bufPool) putWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	bp.writers.Put(bw)
}

// piece returns the next piece of a line, without its line ending; eol
// tells whether the piece ends the line. At the end of the input it returns
// io.EOF, after a last piece with eol false if the input did not end with
// a line ending. The piece is valid until the next call.
func (l *lineReader) piece() (p []byte, eol bool, err error) {
	p, err = l.br.ReadSlice('\n')
	switch {
	case err == nil:
		p = p[:len(p)-1]
		if len(p) > 0 && p[len(p)-1] == '\r' {
			p = p[:len(p)-1]
		}
		return p, true, nil
	case errors.Is(err, bufio.ErrBufferFull):
		// A CR at the end of a full buffer may be the first half of a
		// CRLF: leave it for the next piece.
		if p[len(p)-1] == '\r' {
			l.br.UnreadByte()
			p = p[:len(p)-1]
		}
		return p, false, nil
	case errors.Is(err, io.EOF):
		if len(p) > 0 {
			return p, false, nil
		}
		return nil, false, io.EOF
	}
	return nil, false, err
}

// line reads a line of at most max bytes (its ending removed) into buf. If
// the line is longer, the first max bytes or more are returned with
// complete false and the rest is left to read with piece.
func (l *lineReader) line(buf []byte, max int) (line []byte, complete bool, err error) {
	line = buf[:0]
	for {
		p, eol, err := l.piece()
		if err != nil {
			if errors.Is(err, io.EOF) && len(line) > 0 {
				return line, true, nil
			}
			return line, false, err
		}
		line = append(line, p...)
		if eol {
			return line, true, nil
		}
		if len(line) >= max {
			return line, false, nil
		}
	}
}

// sizeWriter counts what is written, and fails once the queue file would
// pass message_size_limit.
type sizeWriter struct {
	w     io.Writer
	n     int64 // the queue file size, counting what w buffers
	limit int64 // 0: none
	err   error
}

func (s *sizeWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.n += int64(len(p)); s.limit > 0 && s.n > s.limit {
		s.err = &Error{Code: 552, DSN: "5.3.4", Text: "Message size exceeds fixed limit"}
		return 0, s.err
	}
	n, err := s.w.Write(p)
	if err != nil {
		s.err = err
	}
	return n, err
}

// copyBody streams the rest of the content (after the header block) to w,
// normalising line endings, and adds a final newline if the content lacks
// one.
func copyBody(w io.Writer, lr *lineReader, checkCtx func() error) error {
	nl := []byte{'\n'}
	for {
		p, eol, err := lr.piece()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return readError{err}
		}
		if _, err := w.Write(p); err != nil {
			return err
		}
		if eol || isLastPiece(lr) {
			if _, err := w.Write(nl); err != nil {
				return err
			}
		}
		if err := checkCtx(); err != nil {
			return err
		}
	}
}

// isLastPiece tells whether the input is exhausted, so that a final line
// without a line ending still gets its newline.
func isLastPiece(lr *lineReader) bool {
	_, err := lr.br.Peek(1)
	return errors.Is(err, io.EOF)
}

// readError marks a failure to read the content, as opposed to a failure to
// write the queue file.
type readError struct{ err error }

func (e readError) Error() string { return "read content: " + e.err.Error() }
func (e readError) Unwrap() error { return e.err }
