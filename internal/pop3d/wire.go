package pop3d

// The wire codec: command lines, message numbers, and the byte-stuffed
// multi-line responses of RETR and TOP. Kept apart so it can be fuzzed
// alone.

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
)

var errLineTooLong = errors.New("line too long")

// readLine reads one line of at most limit octets without its CRLF (or
// bare LF). A longer line is errLineTooLong.
func readLine(r *bufio.Reader, limit int) (string, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) > limit+2 {
			return "", errLineTooLong
		}
		line = append(line, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(line) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		break
	}
	line = bytes.TrimSuffix(line[:len(line)-1], []byte{'\r'})
	if len(line) > limit {
		return "", errLineTooLong
	}
	return string(line), nil
}

// parseCommand splits a command line into its keyword, upper-cased, and
// its arguments: what follows the first space (RFC 1939 §3: keyword and
// arguments are separated by a single space; the password of PASS may
// itself contain spaces, so nothing else is touched).
func parseCommand(line string) (name, args string) {
	name, args, _ = strings.Cut(line, " ")
	return strings.ToUpper(name), args
}

// msgNumError is a bad message-number argument; its text is the reply
// after "-ERR ".
type msgNumError string

func (e msgNumError) Error() string { return string(e) }

// parseNumber reads a decimal argument at the start of args: the number,
// what follows it, or an error naming what (Dovecot's replies: "Invalid
// message number: x", "Message number too large: x").
func parseNumber(args, what string) (uint64, string, error) {
	i := 0
	for i < len(args) && args[i] >= '0' && args[i] <= '9' {
		i++
	}
	if args == "" {
		return 0, "", msgNumError("Missing " + what + ".")
	}
	if i == 0 {
		return 0, "", msgNumError("Invalid " + what + ": " + args)
	}
	n, err := strconv.ParseUint(args[:i], 10, 32)
	if err != nil {
		return 0, "", msgNumError(strings.ToUpper(what[:1]) + what[1:] + " too large: " + args)
	}
	return n, args[i:], nil
}

// parseMsgArgs reads the arguments of LIST n, RETR, DELE, UIDL n (one
// message number) and TOP (a message number and a line count).
func parseMsgArgs(args string, withLines bool) (msg uint64, lines uint64, err error) {
	msg, rest, err := parseNumber(args, "message number")
	if err != nil {
		return 0, 0, err
	}
	if !withLines {
		if rest != "" {
			return 0, 0, msgNumError("Noise after message number: " + strings.TrimLeft(rest, " "))
		}
		return msg, 0, nil
	}
	if rest == "" {
		return 0, 0, msgNumError("Syntax: TOP <message number> <lines>")
	}
	if rest[0] != ' ' {
		return 0, 0, msgNumError("Noise after message number: " + strings.TrimLeft(rest, " "))
	}
	lines, rest, err = parseNumber(strings.TrimLeft(rest, " "), "size")
	if err != nil {
		return 0, 0, err
	}
	if rest != "" {
		return 0, 0, msgNumError("Noise after size: " + strings.TrimLeft(rest, " "))
	}
	return msg, lines, nil
}

// writeMessage copies a message to w as the body of a multi-line response
// (RFC 1939 §3): every line ends in CRLF (a bare LF gets its CR), a line
// that starts with "." gets another, and a final ".\r\n" ends it. With
// bodyLines >= 0 (TOP) only the header, the blank line after it and that
// many body lines are sent. It returns the octets of content written,
// the terminating line excluded.
func writeMessage(w *bufio.Writer, r io.Reader, bodyLines int64) (int64, error) {
	br := bufio.NewReaderSize(r, 32*1024)
	var n int64
	write := func(b []byte) {
		m, _ := w.Write(b)
		n += int64(m)
	}
	crlf := []byte("\r\n")
	atStart, inBody, pendingCR := true, false, false
	for !(atStart && inBody && bodyLines == 0) {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			if atStart {
				if chunk[0] == '.' {
					write([]byte{'.'})
				}
				blank := string(chunk) == "\n" || string(chunk) == "\r\n"
				if !inBody && blank {
					inBody = true // the blank line ending the header
				} else if inBody && bodyLines > 0 {
					bodyLines--
				}
			}
			if pendingCR {
				// A CR held back at the end of a partial line: part of
				// the line ending if an LF follows, content otherwise.
				if chunk[0] != '\n' {
					write([]byte{'\r'})
				}
				pendingCR = false
			}
			switch last := chunk[len(chunk)-1]; {
			case last == '\n':
				write(bytes.TrimSuffix(chunk[:len(chunk)-1], []byte{'\r'}))
				write(crlf)
			case last == '\r':
				write(chunk[:len(chunk)-1])
				pendingCR = true
			default:
				write(chunk)
			}
			atStart = chunk[len(chunk)-1] == '\n'
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err
		}
	}
	if pendingCR && !atStart {
		// The message ends in a CR: take it as the last line's ending.
		write(crlf)
		atStart = true
	}
	if !atStart {
		write(crlf) // a last line without its line ending, as Dovecot does
	}
	_, err := w.WriteString(".\r\n")
	return n, err
}
