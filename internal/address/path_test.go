package address

import (
	"errors"
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	long := strings.Repeat("a", 65)
	tests := []struct {
		in      string
		reverse bool
		opt     Options
		want    Addr
		wantErr error // nil: any error when bad is set
		bad     bool
	}{
		{in: "<>", reverse: true, want: Addr{}},
		{in: "<>", bad: true}, // RFC 5321 §4.1.1.3: RCPT needs a mailbox
		{in: "<user@example.com>", want: Addr{"user", "example.com"}},
		{in: "<User.Name+tag@Example.COM>", want: Addr{"User.Name+tag", "Example.COM"}},
		{in: `<"john doe"@example.com>`, want: Addr{"john doe", "example.com"}},
		{in: `<"a\"b\\c"@example.com>`, want: Addr{`a"b\c`, "example.com"}},
		{in: `<"a@b"@example.com>`, want: Addr{"a@b", "example.com"}},
		{in: "<@a.example,@b.example:user@c.example>", want: Addr{"user", "c.example"}}, // §4.1.1.3 routes ignored
		{in: "<user@[192.0.2.1]>", want: Addr{"user", "[192.0.2.1]"}},
		{in: "<user@[IPv6:2001:db8::1]>", want: Addr{"user", "[IPv6:2001:db8::1]"}},
		{in: "<user@[x400:c=us;a=b]>", want: Addr{"user", "[x400:c=us;a=b]"}},
		{in: "<Postmaster>", want: Addr{Local: "Postmaster"}},
		{in: "<postmaster>", reverse: true, bad: true},
		{in: "<user@[300.1.1.1]>", bad: true},
		{in: "<user@[IPv6:1.2.3.4]>", bad: true},
		{in: "user@example.com", bad: true},
		{in: "<user@example.com", bad: true},
		{in: "<user>", bad: true},
		{in: "<.user@example.com>", bad: true},
		{in: "<us..er@example.com>", bad: true},
		{in: "<user.@example.com>", bad: true},
		{in: "<user@-example.com>", bad: true},
		{in: "<user@exa_mple.com>", bad: true},
		{in: "<user@example..com>", bad: true},
		{in: `<"unterminated@example.com>`, bad: true},
		{in: "<user@example.com> trailing", bad: true},
		{in: "<jöe@example.com>", wantErr: ErrNeedSMTPUTF8, bad: true},
		{in: "<joe@bücher.example>", wantErr: ErrNeedSMTPUTF8, bad: true},
		{in: "<jöe@bücher.example>", opt: Options{SMTPUTF8: true}, want: Addr{"jöe", "bücher.example"}},
		{in: "<j\xffe@example.com>", opt: Options{SMTPUTF8: true}, bad: true},
		{in: "<" + long + "@example.com>", wantErr: ErrTooLong, bad: true},
		{in: "<" + long + "@example.com>", opt: Options{NoLimits: true}, want: Addr{long, "example.com"}},
		{in: "<a@" + strings.Repeat("abcdefghi.", 25) + "com>", wantErr: ErrTooLong, bad: true},
	}
	for _, tt := range tests {
		var got Addr
		var err error
		if tt.reverse {
			got, err = ParseReversePath(tt.in, tt.opt)
		} else {
			got, err = ParseForwardPath(tt.in, tt.opt)
		}
		if tt.bad {
			if err == nil {
				t.Errorf("%q: got %+v, want error", tt.in, got)
			} else if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("%q: error %v, want %v", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: got %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseMailArg(t *testing.T) {
	a, params, err := ParseMailArg("<a@b.example> SIZE=10 body=8BITMIME  SMTPUTF8", Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Param{{"SIZE", "10"}, {"BODY", "8BITMIME"}, {"SMTPUTF8", ""}}
	if a != (Addr{"a", "b.example"}) || len(params) != len(want) {
		t.Fatalf("got %v %v", a, params)
	}
	for i := range want {
		if params[i] != want[i] {
			t.Errorf("param %d: got %v want %v", i, params[i], want[i])
		}
	}
	for _, bad := range []string{"<a@b.example>SIZE=1", "<a@b.example> SIZE=", "<a@b.example> =1", "<a@b.example> SIZE=a=b", "<a@b.example> -X"} {
		if _, _, err := ParseMailArg(bad, Options{}); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	_, params, err = ParseRcptArg("<a@b.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bb@b.example", Options{})
	if err != nil || len(params) != 2 {
		t.Fatalf("got %v, %v", params, err)
	}
	if v, err := DecodeXtext(params[1].Value); err != nil || v != "rfc822;a+b@b.example" {
		t.Errorf("xtext: %q %v", v, err)
	}
}

func TestXtext(t *testing.T) {
	for _, s := range []string{"", "plain", "a+b=c", "sp ace", "\x00\xff"} {
		enc := EncodeXtext(s)
		dec, err := DecodeXtext(enc)
		if err != nil || dec != s {
			t.Errorf("%q -> %q -> %q, %v", s, enc, dec, err)
		}
	}
	for _, bad := range []string{"+", "+4", "+4g", "a=b", "a b", "+2b"} {
		if _, err := DecodeXtext(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestQuoteLocal(t *testing.T) {
	tests := map[string]string{
		"user":       "user",
		"first.last": "first.last",
		"a+b":        "a+b",
		"john doe":   `"john doe"`,
		"":           `""`,
		".x":         `".x"`,
		"a..b":       `"a..b"`,
		`a"b`:        `"a\"b"`,
		"a@b":        `"a@b"`,
		"jöe":        "jöe",
	}
	for in, want := range tests {
		if got := QuoteLocal(in); got != want {
			t.Errorf("QuoteLocal(%q) = %s, want %s", in, got, want)
		}
		// Round trip through the parser.
		a, err := ParseMailbox(QuoteLocal(in)+"@example.com", Options{SMTPUTF8: true})
		if err != nil || a.Local != in {
			t.Errorf("round trip %q: %+v %v", in, a, err)
		}
	}
}

func TestIDNA(t *testing.T) {
	a, err := ToASCII("Bücher.example")
	if err != nil || a != "xn--bcher-kva.example" {
		t.Errorf("ToASCII: %q %v", a, err)
	}
	u, err := ToUnicode("xn--bcher-kva.example")
	if err != nil || u != "bücher.example" {
		t.Errorf("ToUnicode: %q %v", u, err)
	}
	if !DomainEqual("Example.COM.", "example.com") || DomainEqual("a.example", "b.example") {
		t.Error("DomainEqual")
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"<>", "<a@b.c>", `<"x y"@[1.2.3.4]>`, "<@a,@b:c@d>", "<a@[IPv6:::1]> SIZE=1 X", "<jö@ü.example>", "<Postmaster>"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, utf bool) {
		opt := Options{SMTPUTF8: utf}
		a, params, err := ParseMailArg(s, opt)
		if err != nil {
			return
		}
		_ = params
		if a.IsNull() {
			return
		}
		// Property: printing and parsing again gives the same address.
		b, err := ParseMailbox(a.String(), opt)
		if err != nil || b != a {
			t.Fatalf("%q: %+v printed %q reparsed %+v, %v", s, a, a.String(), b, err)
		}
	})
}
