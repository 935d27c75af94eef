package imapd

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailhorn/internal/store"
)

// TestTranscripts replays the example sessions of the RFCs (testdata/rfc/
// *.txt), adapted to data the test builds, against a running server.
//
// A transcript is read line by line:
//
//	# text            a comment
//	= login [NAME]    connect (and log in as alice) as session NAME
//	= connect [NAME]  connect without logging in (the greeting, checked
//	                  by the client, is not part of the transcript)
//	= use NAME        send the next lines on session NAME
//	= starttls        start TLS on the current session
//	= append MAILBOX [N] [(FLAGS)] [FILE]
//	                  add N messages (default 1) through the store: the
//	                  file testdata/rfc/msg/FILE.eml, or a generated one
//	                  whose subject is "message K" (K counts per mailbox)
//	= create NAME     make a mailbox through the store
//	= subscribe NAME  subscribe through the store
//	C: text           a line the client sends; {*} or {*+} is replaced by
//	                  the length of the literal in the L: lines after it
//	L: text           a line of a literal (CRLF added)
//	l: text           the end of a literal (no CRLF added)
//	S: text           a line the server must send
//
// Consecutive S: lines are one block. A block ending in a tagged response
// is compared with everything the server sends up to that tag; another
// block with as many lines as it has. Lines are compared in order; the
// line "S: ..." stands for any number of lines (in a tagged block). In S:
// lines, {*} matches anything and {name} a number, the same one at every
// use in the file (also substituted in C: lines). An S: line ending in
// {*} followed by L: lines and one more S: line expects a literal. Status
// responses (OK, NO, BAD, BYE, PREAUTH) are compared up to their response
// code (written "a OK {*}": any code), continuation requests ("+") only
// as "+": the human text is free. A C: line that continues a command
// after a literal starts with a space: "C:  (\Seen) {*}".
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob("testdata/rfc/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			runTranscript(t, f)
		})
	}
}

type tline struct {
	no   int
	kind string // "C", "L", "S", "="
	text string
}

type transcript struct {
	t       *testing.T
	file    string
	ts      *testServer
	clients map[string]*client
	cur     *client
	vars    map[string]string
	counts  map[string]int
	user    *store.User
}

func readTranscript(t *testing.T, file string) []tline {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []tline
	for i, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSuffix(l, "\r")
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
			continue
		case strings.HasPrefix(l, "= "):
			out = append(out, tline{i + 1, "=", l[2:]})
		case len(l) >= 2 && l[1] == ':' && strings.ContainsRune("CLlS", rune(l[0])):
			out = append(out, tline{i + 1, l[:1], strings.TrimPrefix(l[2:], " ")})
		default:
			t.Fatalf("%s:%d: unknown line %q", file, i+1, l)
		}
	}
	return out
}

func runTranscript(t *testing.T, file string) {
	lines := readTranscript(t, file)
	ts := startServerStore(t, store.Options{SpecialUse: map[string]string{}}, func(o *Options) {
		o.TLS = selfSigned(t)
	})
	u, err := ts.store.OpenUser(context.Background(), ts.userRoot("alice@example.test"), store.Quota{Messages: 100, Bytes: 10 << 20})
	if err != nil {
		t.Fatal(err)
	}
	tr := &transcript{t: t, file: file, ts: ts, clients: map[string]*client{}, vars: map[string]string{}, counts: map[string]int{}, user: u}
	for i := 0; i < len(lines); {
		l := lines[i]
		switch l.kind {
		case "=":
			tr.directive(l)
			i++
		case "C", "L", "l":
			i = tr.send(lines, i)
		case "S":
			i = tr.expect(lines, i)
		}
	}
}

func (tr *transcript) fail(no int, format string, args ...any) {
	tr.t.Helper()
	tr.t.Fatalf("%s:%d: %s", tr.file, no, fmt.Sprintf(format, args...))
}

func (tr *transcript) directive(l tline) {
	f := strings.Fields(l.text)
	name := "main"
	if len(f) > 1 {
		name = f[1]
	}
	ctx := context.Background()
	switch f[0] {
	case "login", "connect":
		c := tr.ts.dial(tr.t)
		if f[0] == "login" {
			c.send("l0 LOGIN alice@example.test secret")
			if r := c.until("l0"); !strings.HasPrefix(r[len(r)-1], "l0 OK") {
				tr.fail(l.no, "login: %v", r)
			}
		}
		tr.clients[name], tr.cur = c, c
	case "use":
		if tr.clients[name] == nil {
			tr.fail(l.no, "no session %s", name)
		}
		tr.cur = tr.clients[name]
	case "starttls":
		tc := tls.Client(tr.cur.conn, &tls.Config{InsecureSkipVerify: true})
		if err := tc.Handshake(); err != nil {
			tr.fail(l.no, "TLS handshake: %v", err)
		}
		tr.cur.conn, tr.cur.r = tc, bufio.NewReader(tc)
	case "create":
		if err := tr.user.Create(ctx, f[1], ""); err != nil {
			tr.fail(l.no, "create: %v", err)
		}
	case "subscribe":
		if err := tr.user.Subscribe(ctx, f[1], true); err != nil {
			tr.fail(l.no, "subscribe: %v", err)
		}
	case "append":
		tr.appendMsgs(l, f[1:])
	default:
		tr.fail(l.no, "unknown directive %q", f[0])
	}
}

// appendMsgs runs "= append MAILBOX [N] [(FLAGS)] [FILE]".
func (tr *transcript) appendMsgs(l tline, args []string) {
	if len(args) == 0 {
		tr.fail(l.no, "append needs a mailbox")
	}
	box, n, file := args[0], 1, ""
	var flags []string
	rest := strings.Join(args[1:], " ")
	if f := strings.Fields(rest); len(f) > 0 {
		if k, err := strconv.Atoi(f[0]); err == nil {
			n = k
			rest = strings.TrimSpace(strings.TrimPrefix(rest, f[0]))
		}
	}
	if strings.HasPrefix(rest, "(") {
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			tr.fail(l.no, "unclosed flag list")
		}
		flags = strings.Fields(rest[1:end])
		rest = strings.TrimSpace(rest[end+1:])
	}
	file = rest
	for range n {
		tr.counts[box]++
		content := fmt.Sprintf("From: someone@example.test\r\nTo: alice@example.test\r\nSubject: message %d\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\n\r\nBody of message %d.\r\n", tr.counts[box], tr.counts[box])
		if file != "" {
			b, err := os.ReadFile(filepath.Join("testdata", "rfc", "msg", file+".eml"))
			if err != nil {
				tr.fail(l.no, "%v", err)
			}
			content = string(b)
		}
		date := time.Date(2024, 3, 1, 12, 0, tr.counts[box], 0, time.UTC)
		if _, _, err := tr.user.Append(context.Background(), box, strings.NewReader(content), flags, date); err != nil {
			tr.fail(l.no, "append: %v", err)
		}
	}
}

var varRE = regexp.MustCompile(`\{([a-z][a-z0-9]*)\}`)

// send writes C: and L: lines from lines[i] on; it returns the index of
// the first line it did not use.
func (tr *transcript) send(lines []tline, i int) int {
	if tr.cur == nil {
		tr.fail(lines[i].no, "no session")
	}
	var out strings.Builder
	for ; i < len(lines) && (lines[i].kind == "C" || lines[i].kind == "L" || lines[i].kind == "l"); i++ {
		l := lines[i]
		text := varRE.ReplaceAllStringFunc(l.text, func(m string) string {
			v, ok := tr.vars[m[1:len(m)-1]]
			if !ok {
				tr.fail(l.no, "%s is not bound yet", m)
			}
			return v
		})
		if l.kind == "C" && (strings.HasSuffix(text, "{*}") || strings.HasSuffix(text, "{*+}")) {
			n := 0
			for j := i + 1; j < len(lines) && lines[j].kind != "C"; j++ {
				switch lines[j].kind {
				case "L":
					n += len(lines[j].text) + 2
				case "l":
					n += len(lines[j].text)
				}
			}
			plus := strings.HasSuffix(text, "{*+}")
			text = text[:strings.LastIndexByte(text, '{')] + "{" + strconv.Itoa(n)
			if plus {
				text += "+"
			}
			text += "}"
		}
		out.WriteString(text)
		if l.kind != "l" {
			out.WriteString("\r\n")
		}
	}
	if _, err := tr.cur.conn.Write([]byte(out.String())); err != nil {
		tr.fail(lines[i-1].no, "sending: %v", err)
	}
	return i
}

// expect reads the block of S: lines at lines[i] and compares.
func (tr *transcript) expect(lines []tline, i int) int {
	start := lines[i].no
	var want []string
	for i < len(lines) && lines[i].kind == "S" {
		text := lines[i].text
		i++
		// A literal: L: lines, then the rest of the line.
		for strings.HasSuffix(text, "{*}") && i < len(lines) && (lines[i].kind == "L" || lines[i].kind == "l") {
			var lit strings.Builder
			for ; i < len(lines) && (lines[i].kind == "L" || lines[i].kind == "l"); i++ {
				lit.WriteString(lines[i].text)
				if lines[i].kind == "L" {
					lit.WriteString("\r\n")
				}
			}
			text = text[:len(text)-3] + "{" + strconv.Itoa(lit.Len()) + "}\r\n" + lit.String()
			if i < len(lines) && lines[i].kind == "S" {
				text += lines[i].text
				i++
			}
		}
		want = append(want, text)
	}
	if tr.cur == nil {
		tr.fail(start, "no session")
	}
	last := want[len(want)-1]
	tag, _, _ := strings.Cut(last, " ")
	var got []string
	if tag != "*" && tag != "+" {
		got = tr.cur.until(tag)
	} else {
		for range want {
			got = append(got, tr.cur.line())
		}
	}
	bound := map[string]string{}
	if !tr.matchLines(want, got, bound) {
		tr.fail(start, "server said\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	for k, v := range bound {
		tr.vars[k] = v
	}
	return i
}

// matchLines matches lines against patterns in order; the pattern "..."
// matches any number of lines.
func (tr *transcript) matchLines(want, got []string, bound map[string]string) bool {
	if len(want) == 0 {
		return len(got) == 0
	}
	if want[0] == "..." {
		for k := 0; k <= len(got); k++ {
			b := maps.Clone(bound)
			if tr.matchLines(want[1:], got[k:], b) {
				maps.Copy(bound, b)
				return true
			}
		}
		return false
	}
	return len(got) > 0 && tr.match(want[0], got[0], bound) && tr.matchLines(want[1:], got[1:], bound)
}

var statusRE = regexp.MustCompile(`^(\S+ (?:OK|NO|BAD|BYE|PREAUTH))(?: (\[[^\]]*\]))?`)

// statusPart cuts the human text off a status response or continuation.
func statusPart(l string) string {
	if l == "+" || strings.HasPrefix(l, "+ ") {
		return "+"
	}
	if m := statusRE.FindStringSubmatch(l); m != nil {
		if m[2] != "" {
			return m[1] + " " + m[2]
		}
		return m[1]
	}
	return l
}

// match compares a server line with a pattern line, binding variables.
func (tr *transcript) match(pattern, line string, bound map[string]string) bool {
	if m := statusRE.FindStringSubmatch(pattern); m != nil && pattern == m[1]+" {*}" {
		return strings.HasPrefix(line, m[1]) // any code, any text
	}
	if statusRE.MatchString(pattern) || strings.HasPrefix(pattern, "+") {
		pattern, line = statusPart(pattern), statusPart(line)
	}
	var re strings.Builder
	var names []string
	re.WriteString("^")
	rest := pattern
	for {
		loc := regexp.MustCompile(`\{(\*|[a-z][a-z0-9]*)\}`).FindStringSubmatchIndex(rest)
		if loc == nil {
			re.WriteString(regexp.QuoteMeta(rest))
			break
		}
		re.WriteString(regexp.QuoteMeta(rest[:loc[0]]))
		name := rest[loc[2]:loc[3]]
		switch {
		case name == "*":
			re.WriteString("(?s:.*)")
		case tr.vars[name] != "":
			re.WriteString(regexp.QuoteMeta(tr.vars[name]))
		default:
			re.WriteString(`(\d+)`)
			names = append(names, name)
		}
		rest = rest[loc[1]:]
	}
	re.WriteString("$")
	m := regexp.MustCompile(re.String()).FindStringSubmatch(line)
	if m == nil {
		return false
	}
	for k, n := range names {
		if v, ok := bound[n]; ok && v != m[k+1] {
			return false
		}
		bound[n] = m[k+1]
	}
	return true
}
