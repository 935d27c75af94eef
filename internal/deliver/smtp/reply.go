package smtp

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
)

// Reply is one SMTP or LMTP server reply (RFC 5321 §4.2): a three-digit
// code and its text lines, without the code and separators.
type Reply struct {
	Code  int
	Lines []string
}

// maxReplyLines bounds a multi-line reply, as Postfix's
// smtp_line_length_limit bounds a line, so a hostile server cannot make
// the client hold unbounded text.
const (
	maxReplyLines = 200
	maxReplyLine  = 2048
)

// errBadReply is a reply that does not follow RFC 5321 §4.2.
var errBadReply = errors.New("malformed reply")

// readReply reads one reply, all its continuation lines included.
func readReply(r *bufio.Reader) (Reply, error) {
	var rep Reply
	for {
		line, err := readLine(r)
		if err != nil {
			return rep, err
		}
		code, more, text, err := parseReplyLine(line)
		if err != nil {
			return rep, err
		}
		if rep.Lines != nil && code != rep.Code {
			return rep, fmt.Errorf("%w: code %d in a reply of code %d", errBadReply, code, rep.Code)
		}
		rep.Code = code
		if len(rep.Lines) < maxReplyLines {
			rep.Lines = append(rep.Lines, text)
		}
		if !more {
			return rep, nil
		}
	}
}

// readLine reads a line ending in LF (CRLF or a bare LF, as Postfix
// accepts), truncating what is beyond maxReplyLine.
func readLine(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		frag, err := r.ReadSlice('\n')
		if b.Len() < maxReplyLine {
			n := min(len(frag), maxReplyLine-b.Len())
			b.Write(frag[:n])
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", err
		}
		return strings.TrimRight(b.String(), "\r\n"), nil
	}
}

// parseReplyLine splits "250-text" / "250 text" / "250".
func parseReplyLine(line string) (code int, more bool, text string, err error) {
	if len(line) < 3 {
		return 0, false, "", fmt.Errorf("%w: %q", errBadReply, line)
	}
	for i := range 3 {
		c := line[i]
		if c < '0' || c > '9' || (i == 0 && (c < '2' || c > '5')) {
			return 0, false, "", fmt.Errorf("%w: %q", errBadReply, line)
		}
		code = code*10 + int(c-'0')
	}
	switch {
	case len(line) == 3:
		return code, false, "", nil
	case line[3] == '-':
		return code, true, line[4:], nil
	case line[3] == ' ':
		return code, false, line[4:], nil
	}
	return 0, false, "", fmt.Errorf("%w: %q", errBadReply, line)
}

// String is the reply on one line as Postfix logs it: "550 5.1.1 text",
// continuation lines joined with spaces.
func (r Reply) String() string {
	return fmt.Sprintf("%d %s", r.Code, strings.Join(r.Lines, " "))
}

// DSN is the reply's RFC 3463 enhanced status code when its first line
// starts with one whose class agrees with the reply code (RFC 2034), or
// X.0.0 from the code's class otherwise.
func (r Reply) DSN() string {
	class := byte('0' + r.Code/100)
	if len(r.Lines) > 0 {
		if d, ok := enhanced(r.Lines[0]); ok && d[0] == class {
			return d
		}
	}
	return string(class) + ".0.0"
}

// enhanced finds "X.Y.Z" at the start of s.
func enhanced(s string) (string, bool) {
	f, _, _ := strings.Cut(s, " ")
	p := strings.Split(f, ".")
	if len(p) != 3 || len(p[0]) != 1 || !strings.Contains("245", p[0]) {
		return "", false
	}
	for _, n := range p[1:] {
		if n == "" || len(n) > 3 || strings.Trim(n, "0123456789") != "" {
			return "", false
		}
	}
	return f, true
}

// extensions are the EHLO keywords of a server, upper-cased, with their
// parameters.
type extensions map[string]string

// parseEHLO reads the extensions from an EHLO/LHLO reply (all lines but
// the first, RFC 5321 §4.1.1.1).
func parseEHLO(r Reply) extensions {
	ext := extensions{}
	for _, l := range r.Lines[min(1, len(r.Lines)):] {
		k, v, _ := strings.Cut(strings.TrimSpace(l), " ")
		// "AUTH=LOGIN PLAIN" is an old form some servers still send.
		if ak, av, ok := strings.Cut(k, "="); ok && strings.EqualFold(ak, "AUTH") {
			k, v = ak, strings.TrimSpace(av+" "+v)
		}
		if k != "" {
			ext[strings.ToUpper(k)] = v
		}
	}
	return ext
}

func (e extensions) has(k string) bool {
	_, ok := e[k]
	return ok
}
