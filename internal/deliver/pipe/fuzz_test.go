package pipe

import (
	"strings"
	"testing"
)

// FuzzParseArgs feeds master.cf pipe arguments (file input) to the parser
// and the expander: errors are fine, panics are not, and what parses
// expands without an unknown macro.
func FuzzParseArgs(f *testing.F) {
	for _, s := range []string{
		"flags=DRhu user=vmail argv=/usr/bin/maildrop -d ${recipient}",
		`flags=F. user=uucp eol=\r\n\101 size=10 argv=/usr/bin/uux -r -n -z -a$sender - $nexthop!rmail ($recipient)`,
		"user=a:b null_sender= directory=/ argv=/x $(user) ${extension}$$ $mailbox",
		"user=x argv=/x ${", "flags=Q", "eol=\\", "argv=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		a, err := ParseArgs(strings.Fields(line))
		if err != nil {
			return
		}
		for _, arg := range a.Argv {
			out := expand(arg, map[string]string{"recipient": "r"})
			if len(out) > len(arg)+16 {
				t.Fatalf("%q expanded to %q", arg, out)
			}
		}
	})
}
