package config

import "testing"

// TestExpandWith checks the expander over a lookup function: values are
// not expanded again, and lookup learns which names are substituted and
// which only tested.
func TestExpandWith(t *testing.T) {
	vals := map[string]string{"user": "bob", "ext": "", "raw": "$user"}
	for _, tc := range []struct {
		in, out     string
		used, tests string // names looked up to substitute, to test
		wantErr     bool
	}{
		{in: "$user/${user}/$(user)", out: "bob/bob/bob", used: "user"},
		{in: "$raw", out: "$user", used: "raw"},
		{in: "${ext?x}${ext:y}${none:z}", out: "yz", tests: "ext ext none"},
		{in: "${user?{+$user}:{-}}", out: "+bob", used: "user", tests: "user"},
		{in: "$none.", out: ".", used: "none"},
		{in: "${{$user} == {bob}}", out: "true", used: "user"},
		{in: "$$user", out: "$user"},
		{in: "${user", wantErr: true},
		{in: "${us er}", wantErr: true},
		{in: "$", wantErr: true},
	} {
		var used, tests string
		got, err := ExpandWith(tc.in, func(name string, use bool) (string, bool) {
			if use {
				used += " " + name
			} else {
				tests += " " + name
			}
			v, ok := vals[name]
			return v, ok
		})
		if tc.wantErr {
			if err == nil {
				t.Errorf("%q: no error, got %q", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.out {
			t.Errorf("%q = %q, %v; want %q", tc.in, got, err, tc.out)
		}
		if used != prefixed(tc.used) || tests != prefixed(tc.tests) {
			t.Errorf("%q: used%q tested%q, want %q and %q", tc.in, used, tests, tc.used, tc.tests)
		}
	}
}

func prefixed(names string) string {
	if names == "" {
		return ""
	}
	return " " + names
}
