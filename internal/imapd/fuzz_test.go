package imapd

import (
	"bufio"
	"strings"
	"testing"
)

// FuzzCommand reads arbitrary input as commands and parses every command's
// arguments the ways the server does: nothing may panic.
func FuzzCommand(f *testing.F) {
	for _, s := range []string{
		"a LOGIN alice secret\r\n", "a APPEND INBOX (\\Seen) \" 7-Feb-1994 22:43:04 -0800\" {3+}\r\nabc\r\n",
		"a FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From)]<0.10>)\r\n", "a LIST (SUBSCRIBED) \"\" (* %) RETURN (STATUS (MESSAGES))\r\n",
		"a SELECT INBOX (QRESYNC (1 2 1:5 (1 2)))\r\n", "a STORE 1 (UNCHANGEDSINCE 3) +FLAGS.SILENT (\\Seen kw)\r\n",
		"a {5}\r\nhello\r\n", "a \"unterminated\r\n",
		"(BINARY.PEEK[1.2]<0.5> BINARY.SIZE[3] BINARY[])\r\n", "a APPEND INBOX ~{3+}\r\n\x00bc\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		cr := cmdReader{
			r:         bufio.NewReader(strings.NewReader(in)),
			lineLimit: 4096,
			litLimit:  func([]byte) (int64, string) { return 4096, "" },
			cont:      func() error { return nil },
		}
		for i := 0; i < 10; i++ {
			rc, err := cr.readCommand()
			if err != nil {
				return
			}
			for _, parse := range []func(p *parser){
				func(p *parser) { p.astring(); p.sp(); p.listMailbox() },
				func(p *parser) { parseFetchItems(p) },
				func(p *parser) { parseSearchKeys(p, 0) },
				func(p *parser) { p.flagList(true) },
				func(p *parser) { statusItems(p) },
				func(p *parser) {
					p.list(func() error { _, err := p.str(); return err })
				},
			} {
				parse(newParser(rc))
			}
		}
	})
}

// FuzzSearch parses search programs.
func FuzzSearch(f *testing.F) {
	for _, s := range []string{"ALL", "OR (FROM x) NOT 1:*", "HEADER X-Y \"z\" SINCE 1-Jan-2000", "MODSEQ \"/flags/x\" all 4", "UID $"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if strings.ContainsAny(in, "\r\n") {
			return
		}
		rc := &rawCommand{lines: [][]byte{[]byte(in)}}
		k, err := parseSearchKeys(newParser(rc), 0)
		if err == nil {
			var n needs
			k.needs(&n)
			k.usesModSeq()
		}
	})
}

// FuzzSequenceSet parses and resolves sequence sets.
func FuzzSequenceSet(f *testing.F) {
	for _, s := range []string{"1", "1:*", "*:3,5", "$", "4294967295:1"} {
		f.Add(s, 5)
	}
	f.Fuzz(func(t *testing.T, in string, n int) {
		set, err := parseSeqSet(in)
		if err != nil || set.saved {
			return
		}
		n = n & 0xfff
		idx, _ := set.seqIndexes(n)
		for i, x := range idx {
			if x < 0 || x >= n || i > 0 && idx[i-1] >= x {
				t.Fatalf("%q over %d: %v", in, n, idx)
			}
		}
	})
}

// FuzzMUTF7 round-trips mailbox names.
func FuzzMUTF7(f *testing.F) {
	f.Add("Grün")
	f.Fuzz(func(t *testing.T, in string) {
		if d, err := decodeMUTF7(in); err == nil {
			encodeMUTF7(d)
		}
		if !strings.ContainsRune(in, 0xfffd) && strings.ToValidUTF8(in, "") == in {
			if d, err := decodeMUTF7(encodeMUTF7(in)); err != nil || d != in {
				t.Fatalf("%q: round trip %q %v", in, d, err)
			}
		}
	})
}
