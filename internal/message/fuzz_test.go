package message

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: any content parses without panic, ENVELOPE and BODYSTRUCTURE
// are well-formed IMAP values and sections stay inside the content.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/corpus/*.eml")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("Content-Type: multipart/mixed; boundary=\"a\"\r\n\r\n--a\r\n\r\n--a--"))
	f.Add([]byte("Content-Type: message/rfc822\n\nContent-Type: message/rfc822\n\n"))
	sections := []string{"", "HEADER", "TEXT", "1", "1.MIME", "2.1", "1.HEADER.FIELDS (From)", "2.TEXT", "1.1.1"}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		for _, out := range [][]byte{p.Envelope(), p.BodyStructure(true), p.BodyStructure(false)} {
			if _, err := canonical(out); err != nil {
				t.Fatalf("not a well-formed IMAP value: %v\n%q", err, out)
			}
		}
		r := bytes.NewReader(b)
		for _, s := range sections {
			sec, err := ParseSection(s)
			if err != nil {
				t.Fatal(err)
			}
			out, err := p.Extract(r, sec)
			if err != nil {
				t.Fatalf("Extract(%q): %v", s, err)
			}
			if len(out) > len(b)+2 {
				t.Fatalf("Extract(%q) gave %d bytes of %d", s, len(out), len(b))
			}
		}
		p.Header(r, "Subject")
		p.HeaderText(r)
		p.Date(r)
		p.BodyText(r, func(string) bool { return true })
	})
}

// FuzzParseSection: no panic; what parses names a valid section.
func FuzzParseSection(f *testing.F) {
	for _, s := range []string{"", "1.2.HEADER.FIELDS (A B)", "TEXT", "3.MIME", "HEADER.FIELDS.NOT (\"x\")", "1..", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sec, err := ParseSection(s)
		if err != nil {
			return
		}
		for _, n := range sec.Path {
			if n <= 0 {
				t.Fatalf("%q: part number %d", s, n)
			}
		}
		if sec.Specifier == "MIME" && len(sec.Path) == 0 {
			t.Fatalf("%q: MIME without a part", s)
		}
	})
}

// FuzzBinary: decoding any section of any content and converting binary
// parts to base64 never panic; a converted message has no binary part
// left; decoding never grows the data.
func FuzzBinary(f *testing.F) {
	f.Add([]byte(binaryTestMsg))
	f.Add([]byte("Content-Transfer-Encoding: binary\n\n\x00\n"))
	f.Add([]byte("Content-Type: message/rfc822\r\nContent-Transfer-Encoding: binary\r\n\r\nContent-Transfer-Encoding: binary\r\n\r\nx"))
	paths := [][]int{nil, {1}, {2}, {1, 1}, {2, 1}, {1, 2, 1}}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range paths {
			out, err := p.Binary(bytes.NewReader(b), path)
			if err != nil && !errors.Is(err, ErrUnknownCTE) {
				t.Fatalf("Binary(%v): %v", path, err)
			}
			if len(out) > len(b) {
				t.Fatalf("Binary(%v) gave %d bytes of %d", path, len(out), len(b))
			}
		}
		for _, enc := range []string{"base64", "quoted-printable"} {
			if out := DecodeTransfer(enc, b); len(out) > len(b) {
				t.Fatalf("%s decoding grew %d to %d", enc, len(b), len(out))
			}
		}
		out, _, err := BinaryToBase64(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, changed, err := BinaryToBase64(out); err != nil || changed {
			t.Fatalf("converted twice: %v %v\n%q\n%q", changed, err, b, out)
		}
	})
}
