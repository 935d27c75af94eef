package restrict

import (
	"errors"
	"testing"

	"mailhorn/internal/maps"
)

// FuzzParse feeds restriction lists (main.cf values and access table
// results), DNS list filters and reply templates to their parsers: they
// may refuse, never panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"permit_mynetworks, reject_unauth_destination",
		"check_client_access hash:/x, reject_rbl_client zen.test=127.0.0.[2..4;9]",
		"{reject_rbl_client rbl.test} warn_if_reject reject_unknown_client_hostname",
		"strict, check_sender_access",
		"$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using $rbl_domain${rbl_reason?; $rbl_reason}",
		"127.0.0.[1;2..3]", "${x", "{", "}", "",
	} {
		f.Add(s)
	}
	noOpen := func(string) (maps.Table, error) { return nil, errors.New("no tables") }
	f.Fuzz(func(t *testing.T, s string) {
		p := newParser([]string{"strict"}, noOpen)
		for _, kind := range []string{"client", "data"} {
			p.parse(splitList(s), kind)
		}
		parseIPFilter(s)
		expandTemplate(s, map[string]string{"rbl_code": "554", "rbl_reason": "x"})
		dsnSplit("5.7.1", s)
		rblDomainName(s)
		validHostname(s)
	})
}
