package privsep

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"syscall"
)

// readError marks a failure to read the message content, as opposed to a
// failure to write the destination.
type readError struct{ err error }

func (e readError) Error() string { return e.err.Error() }
func (e readError) Unwrap() error { return e.err }

var fromPrefix = []byte("From ")

// writeMessage writes c.Prefix and then the content, line by line, as
// Postfix's mail_copy does: lines starting with "From " get a '>' when
// c.QuoteFrom, lines starting with "." another '.' when c.DotStuff, every
// line ends in c.EOL (a missing final newline is added), and with
// c.BlankLine an empty line ends the message. Errors reading body are
// readError.
func writeMessage(w io.Writer, c Copy, body io.Reader) error {
	eol := []byte(c.EOL)
	if len(eol) == 0 {
		eol = []byte{'\n'}
	}
	// The prefix is ours (From_, Return-Path:, Delivered-To:): only its
	// line ends change.
	if err := copyLines(w, bytes.NewReader(c.Prefix), Copy{}, eol, false); err != nil {
		return err
	}
	if err := copyLines(w, body, c, eol, true); err != nil {
		return err
	}
	if c.BlankLine {
		if _, err := w.Write(eol); err != nil {
			return err
		}
	}
	return nil
}

func copyLines(w io.Writer, r io.Reader, c Copy, eol []byte, content bool) error {
	br := bufio.NewReaderSize(r, 64<<10)
	atStart := true
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			// A line cut by the buffer is longer than "From ", so the test
			// at its start sees enough of it.
			if atStart && c.QuoteFrom && bytes.HasPrefix(line, fromPrefix) {
				if _, werr := w.Write([]byte{'>'}); werr != nil {
					return werr
				}
			}
			if atStart && c.DotStuff && line[0] == '.' {
				if _, werr := w.Write([]byte{'.'}); werr != nil {
					return werr
				}
			}
			atStart = line[len(line)-1] == '\n'
			if atStart {
				line = line[:len(line)-1]
			}
			if _, werr := w.Write(line); werr != nil {
				return werr
			}
			if atStart {
				if _, werr := w.Write(eol); werr != nil {
					return werr
				}
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if content {
				return readError{err}
			}
			return err
		}
	}
	if !atStart {
		_, err := w.Write(eol)
		return err
	}
	return nil
}

// limitWriter fails with EFBIG, as the kernel does past a file size limit
// (Postfix enforces mailbox_size_limit with setrlimit), when a write would
// go past n bytes.
type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		return 0, syscall.EFBIG
	}
	n, err := l.w.Write(p)
	l.n -= int64(n)
	return n, err
}

// countReader counts the bytes read, to detect a short content.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
