package maps

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// findTable is an in-memory Table recording the keys it was asked.
type findTable struct {
	m       map[string]string
	pattern bool
	fail    bool
	asked   []string
}

func (t *findTable) Lookup(_ context.Context, key string) (string, bool, error) {
	t.asked = append(t.asked, key)
	if t.fail {
		return "", false, errors.New("table down")
	}
	v, ok := t.m[key]
	return v, ok, nil
}
func (t *findTable) Close() error  { return nil }
func (t *findTable) Pattern() bool { return t.pattern }

// The order is mail_addr_find(3) / canonical(5) "TABLE SEARCH ORDER".
func TestFindAddressOrder(t *testing.T) {
	isLocal := func(_ context.Context, d string) (bool, error) { return d == "dest.example", nil }
	opt := FindOptions{Delimiters: "+", Origin: "origin.example", IsLocal: isLocal}
	tests := []struct {
		addr  string
		asked string
	}{
		{"u+x@origin.example", "u+x@origin.example u@origin.example u+x u @origin.example"},
		{"u+x@DEST.example", "u+x@DEST.example u@DEST.example @DEST.example"}, // IsLocal says no: case is its job
		{"u+x@dest.example", "u+x@dest.example u@dest.example u+x u @dest.example"},
		{"u@remote.example", "u@remote.example @remote.example"},
		{"u+x@remote.example", "u+x@remote.example u@remote.example @remote.example"},
		{"john doe@remote.example", `"john doe"@remote.example @remote.example`},
		{"owner-list@remote.example", "owner-list@remote.example @remote.example"},
		{"u", "u"},
		{"u+x", "u+x u"},
	}
	for _, tt := range tests {
		tb := &findTable{m: map[string]string{}}
		if _, ok, err := FindAddress(context.Background(), tb, tt.addr, opt); ok || err != nil {
			t.Errorf("%s: found=%v err=%v", tt.addr, ok, err)
		}
		if got := strings.Join(tb.asked, " "); got != tt.asked {
			t.Errorf("%s: asked %q, want %q", tt.addr, got, tt.asked)
		}
	}
}

func TestFindAddressResults(t *testing.T) {
	ctx := context.Background()
	opt := FindOptions{Delimiters: "+-", Origin: "example.com"}
	tb := &findTable{m: map[string]string{"u@example.com": "full", "@other.example": "catchall", "bob": "local"}}
	r, ok, err := FindAddress(ctx, tb, "u+ext@example.com", opt)
	if !ok || err != nil || r.Value != "full" || r.Extension != "+ext" || r.Key != "u@example.com" {
		t.Errorf("extension match: %+v %v %v", r, ok, err)
	}
	r, ok, _ = FindAddress(ctx, tb, "bob-x@example.com", opt)
	if !ok || r.Value != "local" || r.Extension != "-x" {
		t.Errorf("local part match: %+v %v", r, ok)
	}
	r, ok, _ = FindAddress(ctx, tb, "x@other.example", opt)
	if !ok || r.Value != "catchall" || r.Extension != "" {
		t.Errorf("@domain match: %+v %v", r, ok)
	}

	// A pattern table sees the full address only; in a List the plain
	// table behind it still gets the partial keys.
	pat := &findTable{m: map[string]string{}, pattern: true}
	plain := &findTable{m: map[string]string{"@other.example": "x"}}
	r, ok, _ = FindAddress(ctx, &List{Tables: []Table{pat, plain}}, "a+b@other.example", opt)
	if !ok || r.Value != "x" || strings.Join(pat.asked, " ") != "a+b@other.example" {
		t.Errorf("pattern in list: %+v %v, pattern asked %v", r, ok, pat.asked)
	}

	// An error is an error, never "not found".
	if _, ok, err := FindAddress(ctx, &findTable{fail: true}, "a@b", opt); ok || err == nil {
		t.Errorf("failing table: ok=%v err=%v", ok, err)
	}
}

func TestSplitExtension(t *testing.T) {
	tests := []struct{ local, delims, base, ext string }{
		{"user+foo", "+", "user", "+foo"},
		{"user+foo+bar", "+", "user", "+foo+bar"},
		{"user-foo+bar", "+-", "user", "-foo+bar"},
		{"+foo", "+", "+foo", ""},
		{"user", "+", "user", ""},
		{"user+foo", "", "user+foo", ""},
		{"Postmaster", "+", "Postmaster", ""},
		{"MAILER-DAEMON", "-", "MAILER-DAEMON", ""},
		{"double-bounce", "-", "double-bounce", ""},
		{"owner-list", "-", "owner-list", ""},
		{"list-request", "-", "list-request", ""},
		{"list-request", "+", "list-request", ""},
		{"owner-list+x", "+", "owner-list", "+x"},
	}
	for _, tt := range tests {
		b, e := SplitExtension(tt.local, tt.delims, "")
		if b != tt.base || e != tt.ext {
			t.Errorf("SplitExtension(%q, %q) = %q, %q; want %q, %q", tt.local, tt.delims, b, e, tt.base, tt.ext)
		}
	}
}
