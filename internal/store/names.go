package store

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxNameLen bounds a mailbox name in bytes: its directory ".A.B" must fit
// in one file name (NAME_MAX 255) with room for nothing else.
const maxNameLen = 254

// CheckName validates an IMAP mailbox name (UTF-8, components separated by
// Delimiter) and returns it canonical: "INBOX" in any case, alone or as the
// first component, is spelled "INBOX". Refused (ErrBadName): empty names or
// components, "." or ".." components, '.' anywhere (Maildir++'s on-disk
// separator; Dovecot's Maildir++ layout refuses it too, we do not escape
// it), a Delimiter at either end, the IMAP wildcards '%' and '*', control
// characters and NUL, invalid UTF-8, names longer than 254 bytes. A valid
// name maps to exactly one directory directly under the user's root, so no
// name can reach outside it.
func CheckName(name string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w %q: %s", ErrBadName, name, why)
	}
	switch {
	case name == "":
		return bad("empty")
	case len(name) > maxNameLen:
		return bad("too long")
	case !utf8.ValidString(name):
		return bad("not UTF-8")
	}
	for _, r := range name {
		switch {
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return bad("control character")
		case r == '.':
			return bad("'.' is not allowed")
		case r == '%' || r == '*':
			return bad("wildcard character")
		case r == utf8.RuneError:
			return bad("not UTF-8")
		}
	}
	parts := strings.Split(name, string(Delimiter))
	for _, p := range parts {
		if p == "" {
			return bad("empty level")
		}
	}
	if strings.EqualFold(parts[0], "INBOX") {
		parts[0] = "INBOX"
	}
	return strings.Join(parts, string(Delimiter)), nil
}

// isInbox reports whether a canonical name is the INBOX.
func isInbox(name string) bool { return name == "INBOX" }

// dirName is the Maildir++ directory of a canonical, non-INBOX name.
func dirName(name string) string {
	return "." + strings.ReplaceAll(name, string(Delimiter), ".")
}

// nameOfDir is the IMAP name of a Maildir++ directory entry, or false when
// the entry is not a folder we show (not ".x", or an invalid name).
func nameOfDir(d string) (string, bool) {
	if len(d) < 2 || d[0] != '.' || d[1] == '.' {
		return "", false
	}
	n := strings.ReplaceAll(d[1:], ".", string(Delimiter))
	c, err := CheckName(n)
	if err != nil || c != n { // ".inbox.x" would not map back to itself
		return "", false
	}
	return c, true
}
