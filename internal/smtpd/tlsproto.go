package smtpd

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// tlsProtocolNames are Postfix's protocol names, oldest first, with Go's
// version numbers (0 for those Go does not speak at all).
var tlsProtocolNames = []struct {
	name    string
	version uint16
}{
	{"SSLv2", 0}, {"SSLv3", 0},
	{"TLSv1", tls.VersionTLS10}, {"TLSv1.1", tls.VersionTLS11},
	{"TLSv1.2", tls.VersionTLS12}, {"TLSv1.3", tls.VersionTLS13},
}

// TLSProtocols reads smtpd_tls_protocols (or
// smtpd_tls_mandatory_protocols) in either of Postfix's forms: bounds
// (">=TLSv1.2", "<=TLSv1.3") or a list of names to include ("TLSv1.2
// TLSv1.3") or exclude ("!SSLv2, !SSLv3, !TLSv1, !TLSv1.1"), separated by
// blanks, commas or colons; empty allows everything. It returns the
// versions for tls.Config.MinVersion and MaxVersion.
//
// mailhorn never speaks below TLS 1.2: a lower minimum (Postfix's
// default ">=TLSv1" included) is raised to TLS 1.2 and raised reports it,
// so that the caller can warn when an administrator asked for less. A
// list with holes ("TLSv1.1 TLSv1.3") gives the range around them, since
// Go takes a range.
func TLSProtocols(v string) (minV, maxV uint16, raised bool, err error) {
	lo, hi := 0, len(tlsProtocolNames)-1
	included := map[int]bool{}
	excluded := map[int]bool{}
	index := func(name string) (int, error) {
		for i, p := range tlsProtocolNames {
			if strings.EqualFold(p.name, name) {
				return i, nil
			}
		}
		return 0, fmt.Errorf("unknown TLS protocol %q", name)
	}
	for _, w := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' || r == ':' || r == '\n' }) {
		var i int
		switch {
		case strings.HasPrefix(w, ">="):
			if i, err = index(w[2:]); err != nil {
				return 0, 0, false, err
			}
			lo = max(lo, i)
		case strings.HasPrefix(w, "<="):
			if i, err = index(w[2:]); err != nil {
				return 0, 0, false, err
			}
			hi = min(hi, i)
		case strings.HasPrefix(w, "!"):
			if i, err = index(w[1:]); err != nil {
				return 0, 0, false, err
			}
			excluded[i] = true
		default:
			if i, err = index(w); err != nil {
				return 0, 0, false, err
			}
			included[i] = true
		}
	}
	first, last := -1, -1
	for i := lo; i <= hi; i++ {
		if excluded[i] || len(included) > 0 && !included[i] {
			continue
		}
		if first < 0 {
			first = i
		}
		last = i
	}
	tls12 := 4 // index of TLSv1.2
	if first < 0 || last < tls12 {
		return 0, 0, false, fmt.Errorf("%q leaves no protocol that mailhorn speaks (TLSv1.2 or later)", v)
	}
	if first < tls12 {
		first, raised = tls12, true
	}
	return tlsProtocolNames[first].version, tlsProtocolNames[last].version, raised, nil
}
