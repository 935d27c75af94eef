package message

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

const binaryTestMsg = "Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
	"--b\r\nContent-Transfer-Encoding: Quoted-Printable\r\n\r\ncaf=C3=A9 =\r\nsoft\r\n" +
	"--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\nAAFQTkcK\r\n/w==\r\n" +
	"--b\r\nContent-Transfer-Encoding: x-gzip\r\n\r\nzz\r\n" +
	"--b\r\nContent-Type: message/rfc822\r\n\r\nContent-Transfer-Encoding: base64\r\n\r\naW5uZXI=\r\n" +
	"--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\n\r\nalt\r\n--c--\r\n" +
	"--b\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00raw\n\x00\r\n" +
	"--b--\r\n"

func TestBinary(t *testing.T) {
	r := strings.NewReader(binaryTestMsg)
	p, err := Parse(r, int64(len(binaryTestMsg)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path []int
		want string
		err  error
	}{
		{[]int{1}, "café soft", nil},
		{[]int{2}, "\x00\x01PNG\n\xff", nil},
		{[]int{3}, "", ErrUnknownCTE},
		{[]int{4}, "Content-Transfer-Encoding: base64\r\n\r\naW5uZXI=", nil},
		{[]int{4, 1}, "inner", nil},
		{[]int{5}, "", ErrMultipartSection},
		{[]int{5, 1}, "alt", nil},
		{[]int{6}, "\x00raw\n\x00", nil},
		{[]int{7}, "", nil},
		{nil, binaryTestMsg, nil},
	}
	for _, tt := range tests {
		got, err := p.Binary(r, tt.path)
		if tt.err != nil {
			if !errors.Is(err, tt.err) || !errors.Is(err, ErrUnknownCTE) {
				t.Errorf("Binary(%v): error %v, want %v", tt.path, err, tt.err)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("Binary(%v) = %q, %v; want %q", tt.path, got, err, tt.want)
		}
	}
	if e := p.Parts[0].Encoding(); e != "quoted-printable" {
		t.Errorf("Encoding() = %q", e)
	}
}

func TestBinaryToBase64(t *testing.T) {
	blob := bytes.Repeat([]byte("\x00bin\nary\r"), 20)
	tests := []struct {
		name, in, want string
		changed        bool
	}{
		{"no binary part", binaryTestMsg[:60], binaryTestMsg[:60], false},
		{"top level", "Subject: x\r\nContent-Transfer-Encoding: BINARY\r\nX: y\r\n\r\n\x00a\nb",
			"Subject: x\r\nContent-Transfer-Encoding: base64\r\nX: y\r\n\r\nAGEKYg==", true},
		{"folded field, twice", "Content-Transfer-Encoding:\r\n\tbinary\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\n",
			"Content-Transfer-Encoding: base64\r\n\r\nCg==", true},
		{"in a multipart, long", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\ncontent-transfer-encoding: binary\r\n\r\n" + string(blob) + "\r\n--b--\r\n",
			"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
				lines76(base64.StdEncoding.EncodeToString(blob)) + "\r\n--b--\r\n", true},
	}
	for _, tt := range tests {
		got, changed, err := BinaryToBase64([]byte(tt.in))
		if err != nil || string(got) != tt.want || changed != tt.changed {
			t.Errorf("%s: got %q %v %v, want %q %v", tt.name, got, changed, err, tt.want, tt.changed)
		}
	}
	// The converted message decodes to the original bytes.
	in := "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: binary\r\n\r\n" + string(blob) + "\r\n--b--\r\n"
	out, _, _ := BinaryToBase64([]byte(in))
	p, _ := Parse(bytes.NewReader(out), int64(len(out)))
	if got, err := p.Binary(bytes.NewReader(out), []int{1}); err != nil || !bytes.Equal(got, blob) {
		t.Errorf("round trip: %q %v", got, err)
	}
}

func lines76(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	b.WriteString(s)
	return b.String()
}

func TestDecodeTransfer(t *testing.T) {
	tests := []struct{ enc, in, want string }{
		{"BASE64", "aGVs\r\nbG8=", "hello"},
		{"base64", "aGVs*bG8", "hello"}, // bad characters skipped, padding optional
		{"quoted-printable", "a=3Db=\r\nc=\nd=ZZ=", "a=bcd=ZZ="},
		{"7bit", "as =3D is", "as =3D is"},
		{"", "x", "x"},
	}
	for _, tt := range tests {
		if got := DecodeTransfer(tt.enc, []byte(tt.in)); string(got) != tt.want {
			t.Errorf("DecodeTransfer(%q, %q) = %q, want %q", tt.enc, tt.in, got, tt.want)
		}
	}
	for _, e := range []string{"", "7bit", "8bit", "binary", "base64", "quoted-printable"} {
		if !DecodableEncoding(e) {
			t.Errorf("%q not decodable", e)
		}
	}
	if DecodableEncoding("x-uuencode") {
		t.Error("x-uuencode decodable")
	}
}
