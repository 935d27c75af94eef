package address

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Addr is a mailbox in internal form: Local is the unquoted local part.
// The zero Addr is the null address "<>" used as a bounce sender.
type Addr struct {
	Local  string
	Domain string
}

// Size limits of RFC 5321 §4.5.3.1 (the 254 for a whole mailbox is the
// Forward-path limit of 256 minus the angle brackets, RFC 5321 erratum 1690).
const (
	MaxLocal   = 64
	MaxDomain  = 255
	MaxMailbox = 254
)

// Errors callers may want to tell apart (wrapped in *SyntaxError).
var (
	// ErrNeedSMTPUTF8 is a UTF-8 address in a session without SMTPUTF8
	// (RFC 6531 §3.4: reply 553 5.6.7).
	ErrNeedSMTPUTF8 = errors.New("non-ASCII address requires SMTPUTF8")
	// ErrTooLong is a local part, domain or mailbox over the RFC 5321 limits.
	ErrTooLong = errors.New("address too long")
)

// SyntaxError describes bad input: what was expected, and where.
type SyntaxError struct {
	Input string
	Pos   int // byte offset in Input
	Msg   string
	Err   error // ErrNeedSMTPUTF8, ErrTooLong or nil
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("bad address %q at offset %d: %s", e.Input, e.Pos, e.Msg)
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// IsNull tells whether a is the null address <>.
func (a Addr) IsNull() bool { return a.Local == "" && a.Domain == "" }

// String gives the external form: local part quoted if needed, then
// "@domain" if there is a domain. The null address prints as "".
func (a Addr) String() string {
	if a.IsNull() {
		return ""
	}
	if a.Domain == "" {
		return QuoteLocal(a.Local)
	}
	return QuoteLocal(a.Local) + "@" + a.Domain
}

// Internal gives the internal form local@domain, unquoted, as Postfix stores
// addresses in queue files.
func (a Addr) Internal() string {
	if a.Domain == "" {
		return a.Local
	}
	return a.Local + "@" + a.Domain
}

// SplitInternal splits an internal-form address at its last "@". hasAt
// tells "user@" (empty domain) from "user" (no domain).
func SplitInternal(s string) (local, domain string, hasAt bool) {
	i := strings.LastIndexByte(s, '@')
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

// FromInternal reads an internal-form address (see SplitInternal).
func FromInternal(s string) Addr {
	l, d, _ := SplitInternal(s)
	return Addr{Local: l, Domain: d}
}

// isAtext reports RFC 5322 atext (ASCII). Bytes >= 0x80 are handled by the
// callers, which know whether UTF-8 is allowed.
func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// IsDotString tells whether local can be written without quotes: a
// Dot-string of atext (UTF-8 counts as atext, RFC 6531 §3.3).
func IsDotString(local string) bool {
	if local == "" || local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		if c != '.' && c < 0x80 && !isAtext(c) {
			return false
		}
	}
	return true
}

// QuoteLocal gives the external form of a local part: unchanged when it is a
// Dot-string, otherwise a Quoted-string with '"' and '\' escaped. Like
// Postfix's quote_822_local the whole local part is quoted, never a piece.
func QuoteLocal(local string) string {
	if IsDotString(local) {
		return local
	}
	return Quoted(local)
}

// Quoted gives s as an RFC 5322 quoted-string (§3.2.4): in double quotes,
// with '"' and '\\' escaped by a backslash.
func Quoted(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// DomainEqual compares domain names case-insensitively (ASCII and Unicode
// simple folding, so U-labels compare too). A trailing dot is ignored.
func DomainEqual(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}

// ToASCII turns a domain with U-labels into its A-label form
// (bücher.example -> xn--bcher-kva.example), as RFC 5891 lookup. Address
// literals and pure-ASCII names are returned lower-cased otherwise unchanged.
func ToASCII(domain string) (string, error) {
	if strings.HasPrefix(domain, "[") || isASCII(domain) {
		return domain, nil
	}
	a, err := idna.Lookup.ToASCII(domain)
	if err != nil {
		return "", fmt.Errorf("domain %q: %w", domain, err)
	}
	return a, nil
}

// ToUnicode turns A-labels into U-labels for display.
func ToUnicode(domain string) (string, error) {
	if strings.HasPrefix(domain, "[") {
		return domain, nil
	}
	u, err := idna.Lookup.ToUnicode(domain)
	if err != nil {
		return "", fmt.Errorf("domain %q: %w", domain, err)
	}
	return u, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// CheckDomain validates a domain name (RFC 5321 Domain) or an address
// literal. With utf8, sub-domains may be U-labels (RFC 6531 §3.3).
func CheckDomain(d string, utf8ok bool) error {
	if strings.HasPrefix(d, "[") {
		return CheckLiteral(d)
	}
	if d == "" {
		return errors.New("empty domain")
	}
	if len(d) > MaxDomain {
		return fmt.Errorf("domain longer than %d octets: %w", MaxDomain, ErrTooLong)
	}
	if !isASCII(d) {
		if !utf8ok {
			return ErrNeedSMTPUTF8
		}
		if !utf8.ValidString(d) {
			return errors.New("domain is not valid UTF-8")
		}
		a, err := idna.Lookup.ToASCII(d)
		if err != nil {
			return fmt.Errorf("domain is not a valid IDN: %v", err)
		}
		d = a
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" {
			return errors.New("empty label in domain")
		}
		if len(label) > 63 {
			return errors.New("domain label longer than 63 octets")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("domain label %q starts or ends with '-'", label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c == '-' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
				return fmt.Errorf("invalid character %q in domain", c)
			}
		}
	}
	return nil
}

// CheckLiteral validates an RFC 5321 §4.1.3 address literal, brackets
// included: [IPv4], [IPv6:addr], or a General-address-literal [tag:text].
func CheckLiteral(lit string) error {
	if len(lit) < 3 || lit[0] != '[' || lit[len(lit)-1] != ']' {
		return errors.New("address literal must be [...]")
	}
	body := lit[1 : len(lit)-1]
	if tag, rest, ok := strings.Cut(body, ":"); ok {
		if strings.EqualFold(tag, "IPv6") {
			ip, err := netip.ParseAddr(rest)
			if err != nil || !ip.Is6() || ip.Zone() != "" {
				return fmt.Errorf("invalid IPv6 address literal %q", lit)
			}
			return nil
		}
		if tag == "" || tag[len(tag)-1] == '-' || CheckDomain(tag, false) != nil || strings.Contains(tag, ".") {
			return fmt.Errorf("invalid address literal tag %q", tag)
		}
		if rest == "" {
			return fmt.Errorf("empty general address literal %q", lit)
		}
		for i := 0; i < len(rest); i++ {
			if c := rest[i]; c < 33 || c > 126 || c == '[' || c == '\\' || c == ']' {
				return fmt.Errorf("invalid character %q in address literal", c)
			}
		}
		return nil
	}
	ip, err := netip.ParseAddr(body)
	if err != nil || !ip.Is4() {
		return fmt.Errorf("invalid IPv4 address literal %q", lit)
	}
	return nil
}

// LiteralAddr returns the IP address of an [IPv4] or [IPv6:...] literal.
func LiteralAddr(lit string) (netip.Addr, bool) {
	if len(lit) < 3 || lit[0] != '[' || lit[len(lit)-1] != ']' {
		return netip.Addr{}, false
	}
	body := lit[1 : len(lit)-1]
	if len(body) > 5 && strings.EqualFold(body[:5], "IPv6:") {
		ip, err := netip.ParseAddr(body[5:])
		return ip, err == nil && ip.Is6()
	}
	ip, err := netip.ParseAddr(body)
	return ip, err == nil && ip.Is4()
}
