package address

import (
	"strings"
	"testing"
)

func TestParseList(t *testing.T) {
	tests := []struct {
		in    string
		addrs []Addr
		names []string
	}{
		{"user@example.com", []Addr{{"user", "example.com"}}, []string{""}},
		{"John Doe <john@example.com>, jane@example.com (Jane)", []Addr{{"john", "example.com"}, {"jane", "example.com"}}, []string{"John Doe", ""}},
		{`"Doe, John" <john@example.com>`, []Addr{{"john", "example.com"}}, []string{"Doe, John"}},
		{"undisclosed-recipients:;", nil, nil},
		{"friends: a@x.example, B <b@y.example>;, c@z.example", []Addr{{"a", "x.example"}, {"b", "y.example"}, {"c", "z.example"}}, []string{"", "B", ""}},
		{"a@x.example,,  ,b@x.example", []Addr{{"a", "x.example"}, {"b", "x.example"}}, nil}, // RFC 5322 §4.4 obs-addr-list
		{"<@route.example,@r2.example:u@x.example>", []Addr{{"u", "x.example"}}, nil},        // obs-route
		{"john . doe @ example . com", []Addr{{"john.doe", "example.com"}}, nil},             // obs CFWS in addr-spec
		{"root", []Addr{{Local: "root"}}, nil},                                               // no domain: Postfix completes it
		{`"odd local"@[192.0.2.1]`, []Addr{{"odd local", "[192.0.2.1]"}}, nil},
		{"=?utf-8?q?J=C3=B6rg?= <j@example.com>", []Addr{{"j", "example.com"}}, []string{"Jörg"}},
		{"Jörg <jörg@bücher.example>", []Addr{{"jörg", "bücher.example"}}, []string{"Jörg"}},
		{"Mr. Smith <smith@example.com>", []Addr{{"smith", "example.com"}}, []string{"Mr. Smith"}},
		{"<>", []Addr{{}}, nil},
		{"group: a@b.example", []Addr{{"a", "b.example"}}, nil},
	}
	for _, tt := range tests {
		l, err := ParseList(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		got := l.Addrs()
		if len(got) != len(tt.addrs) {
			t.Errorf("%q: got %v want %v", tt.in, got, tt.addrs)
			continue
		}
		for i := range got {
			if got[i] != tt.addrs[i] {
				t.Errorf("%q: addr %d: got %+v want %+v", tt.in, i, got[i], tt.addrs[i])
			}
			if tt.names != nil && l.Entries[i].Name != tt.names[i] {
				t.Errorf("%q: name %d: got %q want %q", tt.in, i, l.Entries[i].Name, tt.names[i])
			}
		}
		if l.String() != tt.in {
			t.Errorf("%q: unchanged list prints as %q", tt.in, l.String())
		}
	}
	for _, bad := range []string{`"open`, "(open", "a@b.example>", "<a@b.example", "a@", "a: b: c@d;;", "x@[1.2", "a@b.example c@d.example", "<a@b.example>)"} {
		if l, err := ParseList(bad); err == nil {
			t.Errorf("%q: no error, got %v", bad, l.Addrs())
		}
	}
}

func TestListRewrite(t *testing.T) {
	in := `"Doe, John" (boss) <john@host.example> , root (Charlie Root), friends: x@y.example;`
	l, err := ParseList(in)
	if err != nil {
		t.Fatal(err)
	}
	l.Entries[0].Addr.Domain = "example.com"
	l.Entries[1].Addr.Domain = "example.com"
	l.Entries[2].Addr.Local = "john doe"
	want := `"Doe, John" (boss) <john@example.com> , root@example.com (Charlie Root), friends: "john doe"@y.example;`
	if got := l.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func FuzzParseList(f *testing.F) {
	for _, s := range []string{"a@b.c", "A <a@b.c>, g: x@y;", `"q" (c) <@r:a@[1.2.3.4]>`, "=?utf-8?q?x?= <>", "a . b @ c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseList(s)
		if err != nil {
			return
		}
		if l.String() != s {
			t.Fatalf("%q: unchanged list prints as %q", s, l.String())
		}
		// Property: rewriting every address gives a list that parses to
		// the new addresses.
		for _, e := range l.Entries {
			if !e.Addr.IsNull() {
				e.Addr = Addr{Local: "new " + e.Addr.Local, Domain: "example.org"}
			}
		}
		out := l.String()
		l2, err := ParseList(out)
		if err != nil {
			t.Fatalf("%q rewritten as %q does not parse: %v", s, out, err)
		}
		if len(l2.Entries) != len(l.Entries) {
			t.Fatalf("%q rewritten as %q: %d entries, want %d", s, out, len(l2.Entries), len(l.Entries))
		}
		for i := range l2.Entries {
			if l2.Entries[i].Addr != l.Entries[i].Addr && !strings.ContainsAny(l.Entries[i].Addr.Local, "\r\n") {
				t.Fatalf("%q rewritten as %q: entry %d is %+v, want %+v", s, out, i, l2.Entries[i].Addr, l.Entries[i].Addr)
			}
		}
	})
}
