package local

import "testing"

func TestExpandAttrs(t *testing.T) {
	at := attrs{"home": "/home/bob", "user": "bob", "extension": "a;b", "recipient_delimiter": "+", "empty": ""}
	filter := "abcdefghijklmnopqrstuvwxyz/.+"
	for _, tc := range []struct {
		in, out  string
		undef    bool
		usedExt  bool
		hasError bool
	}{
		{in: "$home/.forward", out: "/home/bob/.forward"},
		{in: "${home}/.forward${recipient_delimiter}${extension}", out: "/home/bob/.forward+a_b", usedExt: true},
		{in: "$(home)/x", out: "/home/bob/x"},
		{in: "$home/.forward$shell", out: "/home/bob/.forward", undef: true},
		{in: "${shell?x}${shell:y}", out: "y"},
		{in: "${extension?+$extension}", out: "+a_b", usedExt: true},
		{in: "${empty?x}${empty:{y}}", out: "y"},
		{in: "${user?{yes}:{no}}${shell?{yes}:{no}}", out: "yesno"},
		{in: "$$home", out: "$home"},
		{in: "$", hasError: true},
		{in: "${home", hasError: true},
		{in: "${}", hasError: true},
		{in: "$%", hasError: true},
		{in: "${home!x}", hasError: true},
	} {
		e, err := at.expand(tc.in, filter)
		if (err != nil) != tc.hasError {
			t.Errorf("%q: error %v", tc.in, err)
			continue
		}
		if err == nil && (e.text != tc.out || e.undefined != tc.undef || e.usedExtension != tc.usedExt) {
			t.Errorf("%q = %+v, want %q undef=%v ext=%v", tc.in, e, tc.out, tc.undef, tc.usedExt)
		}
	}
}
