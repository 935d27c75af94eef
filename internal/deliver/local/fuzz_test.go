package local

import (
	"testing"
)

// FuzzExpandAttrs feeds forward_path-like patterns (main.cf input) to the
// attribute expander: errors are fine, panics and runaway output are not.
func FuzzExpandAttrs(f *testing.F) {
	for _, s := range []string{"$home/.forward${recipient_delimiter}${extension}", "${a?{${b:{c}}}:{d}}", "$$", "${", "$(x", "${x?{", "${home?{a}:{b}"} {
		f.Add(s)
	}
	at := attrs{"home": "/h", "extension": "e", "recipient_delimiter": "+"}
	f.Fuzz(func(t *testing.T, pattern string) {
		e, err := at.expand(pattern, "")
		if err == nil && len(e.text) > len(pattern)*4+16 {
			t.Fatalf("%q expanded to %d bytes", pattern, len(e.text))
		}
	})
}
