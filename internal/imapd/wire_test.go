package imapd

import (
	"bufio"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// readRaw reads one command from s with generous limits.
func readRaw(s string, limit int64) (*rawCommand, error) {
	cr := cmdReader{
		r:         bufio.NewReader(strings.NewReader(s)),
		lineLimit: 1000,
		litLimit:  func([]byte) (int64, string) { return limit, "" },
		cont:      func() error { return nil },
	}
	return cr.readCommand()
}

func TestParserStrings(t *testing.T) {
	tests := []struct {
		in   string
		want []string // astrings separated by spaces
		err  bool
	}{
		{"a b c\r\n", []string{"a", "b", "c"}, false},
		{`"quoted \"x\" \\" atom]` + "\r\n", []string{`quoted "x" \`, "atom]"}, false},
		{"{5}\r\nhe\r\no x\r\n", []string{"he\r\no", "x"}, false},
		{"{3+}\r\nabc {0}\r\n\r\n", []string{"abc", ""}, false},
		{`"unterminated` + "\r\n", nil, true},
		{`"bad \x escape"` + "\r\n", nil, true},
		{"(paren\r\n", nil, true},
	}
	for _, tt := range tests {
		rc, err := readRaw(tt.in, 100)
		if err != nil {
			t.Fatalf("%q: %v", tt.in, err)
		}
		p := newParser(rc)
		var got []string
		var perr error
		for {
			s, err := p.astring()
			if err != nil {
				perr = err
				break
			}
			got = append(got, s)
			if p.atEnd() {
				break
			}
			if err := p.sp(); err != nil {
				perr = err
				break
			}
		}
		if (perr != nil) != tt.err {
			t.Errorf("%q: err %v", tt.in, perr)
			continue
		}
		if !tt.err && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReaderLimits(t *testing.T) {
	if _, err := readRaw("a APPEND x {99999999999}\r\n", 1000); err == nil {
		t.Error("huge synchronising literal accepted")
	} else {
		var tb *tooBig
		if !errors.As(err, &tb) || tb.tag != "a" {
			t.Errorf("got %v", err)
		}
	}
	if _, err := readRaw("a APPEND x {99999999999999999999999+}\r\n", 1000); !errors.Is(err, errLiteralTooBig) {
		t.Errorf("huge non-synchronising literal: %v", err)
	}
	if _, err := readRaw("a NOOP "+strings.Repeat("x", 2000)+"\r\n", 1000); !errors.Is(err, errLineTooLong) {
		t.Errorf("long line: %v", err)
	}
	// Two literals share the command's budget.
	if _, err := readRaw("a X {60+}\r\n"+strings.Repeat("x", 60)+" {60+}\r\n"+strings.Repeat("y", 60)+"\r\n", 100); !errors.Is(err, errLiteralTooBig) {
		t.Errorf("literal budget: %v", err)
	}
}

func TestSequenceSets(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want []int
		bad  bool
		err  bool
	}{
		{"1", 3, []int{0}, false, false},
		{"1:*", 3, []int{0, 1, 2}, false, false},
		{"*:2", 3, []int{1, 2}, false, false},
		{"3,1,2:2", 3, []int{0, 1, 2}, false, false},
		{"4", 3, nil, true, false},
		{"1:*", 0, nil, false, false},
		{"1", 0, nil, true, false},
		{"0", 3, nil, false, true},
		{"1:", 3, nil, false, true},
		{"a", 3, nil, false, true},
		{"", 3, nil, false, true},
		{"4294967296", 3, nil, false, true},
	}
	for _, tt := range tests {
		set, err := parseSeqSet(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("%q: err %v", tt.in, err)
			continue
		}
		if err != nil {
			continue
		}
		got, bad := set.seqIndexes(tt.n)
		if bad != tt.bad || (!bad && !reflect.DeepEqual(got, tt.want)) {
			t.Errorf("%q over %d: got %v bad=%v", tt.in, tt.n, got, bad)
		}
	}
	if got := string(appendNumSet(nil, []uint32{1, 2, 3, 5, 7, 8})); got != "1:3,5,7:8" {
		t.Errorf("appendNumSet: %s", got)
	}
}

func TestSearchParse(t *testing.T) {
	good := []string{
		`ALL`, `FROM "x y" TO z`, `OR SEEN (NOT DELETED FLAGGED)`, `1:3,*`, `$`, `UID 1:*`,
		`HEADER Message-ID <a@b>`, `SINCE 1-Feb-1994 BEFORE 01-Mar-2024`, `LARGER 10 SMALLER 100`,
		`KEYWORD $Junk UNKEYWORD foo`, `MODSEQ "/flags/\\Seen" all 5`, `MODSEQ 7`, `NOT NOT NEW`,
		`BODY {3}` + "\r\nabc",
	}
	for _, s := range good {
		rc, err := readRaw(s+"\r\n", 100)
		if err != nil {
			t.Fatal(err)
		}
		p := newParser(rc)
		if _, err := parseSearchKeys(p, 0); err != nil || !p.atEnd() {
			t.Errorf("%q: %v (at end %v)", s, err, p.atEnd())
		}
	}
	bad := []string{``, `FOO`, `SINCE 31-Foo-2000`, `OR SEEN`, `(SEEN`, `HEADER "" x`, `LARGER x`, `MODSEQ "/x" weird 5`, strings.Repeat("(", 200) + "ALL" + strings.Repeat(")", 200)}
	for _, s := range bad {
		rc, _ := readRaw(s+"\r\n", 100)
		p := newParser(rc)
		if _, err := parseSearchKeys(p, 0); err == nil && p.atEnd() {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestFetchItemsParse(t *testing.T) {
	tests := []struct {
		in     string
		labels []string
		err    bool
	}{
		{"(FLAGS UID)", nil, false},
		{"FAST", nil, false},
		{"BODY.PEEK[HEADER.FIELDS (From To)]", []string{"BODY[HEADER.FIELDS (FROM TO)]"}, false},
		{"(BODY[] BODY[1.2]<10.20>)", []string{"BODY[]", "BODY[1.2]<10>"}, false},
		{"(RFC822 RFC822.HEADER)", []string{"RFC822", "RFC822.HEADER"}, false},
		{"(FLAGS) (CHANGEDSINCE 12 VANISHED)", nil, false},
		{"BODY[1.x]", nil, true},
		{"BODY[", nil, true},
		{"BODY[]<1.0>", nil, true},
		{"FOO", nil, true},
	}
	for _, tt := range tests {
		rc, _ := readRaw(tt.in+"\r\n", 100)
		req, err := parseFetchItems(newParser(rc))
		if (err != nil) != tt.err {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if err != nil {
			continue
		}
		var labels []string
		for _, it := range req.items {
			if it.kind == fiSection {
				labels = append(labels, it.label)
			}
		}
		if !reflect.DeepEqual(labels, tt.labels) {
			t.Errorf("%q: labels %q", tt.in, labels)
		}
	}
}

func TestMUTF7(t *testing.T) {
	for _, tt := range []struct{ utf8, mutf7 string }{
		{"INBOX", "INBOX"}, {"Grün", "Gr&APw-n"}, {"a&b", "a&-b"}, {"日本語", "&ZeVnLIqe-"}, {"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
	} {
		if got := encodeMUTF7(tt.utf8); got != tt.mutf7 {
			t.Errorf("encode %q = %q, want %q", tt.utf8, got, tt.mutf7)
		}
		if got, err := decodeMUTF7(tt.mutf7); err != nil || got != tt.utf8 {
			t.Errorf("decode %q = %q, %v", tt.mutf7, got, err)
		}
	}
	for _, bad := range []string{"&", "&Jjo", "&AGE-", "\xc3\xbc"} {
		if _, err := decodeMUTF7(bad); err == nil {
			t.Errorf("decode %q accepted", bad)
		}
	}
}

func TestBaseSubject(t *testing.T) {
	for in, want := range map[string]string{
		"Re: [list] Lunch plans":   "lunch plans",
		"Fwd: RE: re[2]: Hello":    "hello",
		"[fwd: Status (fwd)]":      "status",
		"  Report   (fwd) (FWD) ":  "report",
		"[only a blob]":            "[only a blob]",
		"Subject without prefixes": "subject without prefixes",
	} {
		if got := baseSubject(in); got != want {
			t.Errorf("baseSubject(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMatchPattern(t *testing.T) {
	for _, tt := range []struct {
		pat, name string
		want      bool
	}{
		{"*", "a/b/c", true}, {"%", "a/b", false}, {"a/%", "a/b", true}, {"a/%", "a/b/c", false},
		{"a*c", "abc", true}, {"INBOX", "INBOX", true}, {"%/2024", "Projects/2024", true}, {"", "x", false},
	} {
		if got := matchPattern(tt.pat, tt.name); got != tt.want {
			t.Errorf("match(%q, %q) = %v", tt.pat, tt.name, got)
		}
	}
	if got := canonPattern("", "inbox/x"); got != "INBOX/x" {
		t.Errorf("canon %q", got)
	}
}

func TestCheckMailboxName(t *testing.T) {
	for name, ok := range map[string]bool{
		"INBOX": true, "inbox": true, "Work/2024": true, "Work/": true,
		"../x": false, "INBOX/../../etc": false, "a//b": false, ".hidden": false, "x/./y": false, "~root": false, "a\x01b": false, "": false,
	} {
		if _, err := checkMailboxName(name); (err == nil) != ok {
			t.Errorf("%q: %v", name, err)
		}
	}
}
