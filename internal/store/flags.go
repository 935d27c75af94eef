package store

import (
	"slices"
	"strconv"
	"strings"
)

// System flag bits of an index entry. flagPassed is Maildir's "P"
// (resent/bounced): it has no IMAP flag and is only carried over.
const (
	flagAnswered uint8 = 1 << iota
	flagFlagged
	flagDeleted
	flagSeen
	flagDraft
	flagPassed
)

// sysFlags maps the bits to their IMAP names and Maildir info letters, in
// the letters' ASCII order (the order the info must use).
var sysFlags = [...]struct {
	bit    uint8
	letter byte
	name   string
}{
	{flagDraft, 'D', FlagDraft},
	{flagFlagged, 'F', FlagFlagged},
	{flagPassed, 'P', ""},
	{flagAnswered, 'R', FlagAnswered},
	{flagSeen, 'S', FlagSeen},
	{flagDeleted, 'T', FlagDeleted},
}

// maxLetterKeywords is how many keywords have a Maildir info letter
// (a-z, Dovecot's dovecot-keywords); later ones live only in the index.
const maxLetterKeywords = 26

// infoSep starts the Maildir info of a file name in cur/.
const infoSep = ":2,"

// splitName returns a Maildir file name's base (without the info) and
// its info letters ("" when none).
func splitName(name string) (base, info string) {
	if i := strings.Index(name, infoSep); i >= 0 {
		return name[:i], name[i+len(infoSep):]
	}
	if i := strings.IndexByte(name, ':'); i >= 0 { // ":1,..." or garbage: no flags
		return name[:i], ""
	}
	return name, ""
}

// parseInfo reads the flags of a Maildir info: system letters and keyword
// letters (a-z, index into the folder's keyword list; letters without a
// keyword are dropped).
func parseInfo(info string, nkw int) (sys uint8, kw []uint16) {
	for i := 0; i < len(info); i++ {
		c := info[i]
		switch {
		case c >= 'a' && c <= 'z':
			id := uint16(c - 'a')
			if int(id) < nkw && !hasKW(kw, id) {
				kw = append(kw, id)
			}
		default:
			for _, f := range sysFlags {
				if f.letter == c {
					sys |= f.bit
				}
			}
		}
	}
	slices.Sort(kw)
	return sys, kw
}

func hasKW(kw []uint16, id uint16) bool {
	for _, k := range kw {
		if k == id {
			return true
		}
	}
	return false
}

// formatInfo is the Maildir info for flags (letters in ASCII order).
func formatInfo(sys uint8, kw []uint16) string { return string(appendInfo(nil, sys, kw)) }

// appendInfo appends formatInfo(sys, kw) to b.
func appendInfo(b []byte, sys uint8, kw []uint16) []byte {
	for _, f := range sysFlags {
		if sys&f.bit != 0 {
			b = append(b, f.letter)
		}
	}
	for _, id := range kw { // sorted
		if id < maxLetterKeywords {
			b = append(b, byte('a'+id))
		}
	}
	return b
}

// letterKW are the keyword ids of kw that have a letter.
func letterKW(kw []uint16) []uint16 {
	var out []uint16
	for _, id := range kw {
		if id < maxLetterKeywords {
			out = append(out, id)
		}
	}
	return out
}

// sizesFromName reads Maildir++'s ",S=" (file size) and Dovecot's ",W="
// (size with CRLF) from a base name; -1 when absent.
func sizesFromName(base string) (s, w int64) {
	s, w = -1, -1
	parts := strings.Split(base, ",")
	for _, p := range parts[1:] {
		if v, ok := strings.CutPrefix(p, "S="); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
				s = n
			}
		} else if v, ok := strings.CutPrefix(p, "W="); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
				w = n
			}
		}
	}
	return s, w
}

// isSystemFlag reports the bit of an IMAP system flag name (case
// insensitive, as IMAP flags are).
func systemFlagBit(name string) (uint8, bool) {
	for _, f := range sysFlags {
		if f.name != "" && strings.EqualFold(f.name, name) {
			return f.bit, true
		}
	}
	return 0, false
}

// validKeyword reports whether a keyword is an IMAP atom we store
// (RFC 9051 flag-keyword: atom characters, no '\').
func validKeyword(k string) bool {
	if k == "" || len(k) > 200 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return true
}
