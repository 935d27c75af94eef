package restrict

import (
	"fmt"
	"strings"

	"mailhorn/internal/maps"
)

// step is one element of a restriction list: a restriction name with its
// argument (a table or a DNS list domain), or the name of a class.
type step struct {
	name  string     // lower case
	table maps.Table // check_*_access, check_address_map
	spec  string     // the table's type:name, for warnings
	arg   string     // DNS list domain, with an optional "=filter"
	filt  *ipFilter  // parsed filter of arg
	class string     // a smtpd_restriction_classes name
}

// argument kinds of the restrictions this package knows.
const (
	argNone = iota
	argTable
	argDomain
)

// restrictions are the names this package implements, with the argument
// each takes.
var restrictions = map[string]int{
	"permit": argNone, "reject": argNone, "defer": argNone,
	"defer_if_permit": argNone, "defer_if_reject": argNone,
	"warn_if_reject":           argNone,
	"reject_unauth_pipelining": argNone, "reject_plaintext_session": argNone,
	"permit_mynetworks": argNone, "permit_inet_interfaces": argNone,
	"permit_sasl_authenticated": argNone,
	"permit_tls_clientcerts":    argNone, "permit_tls_all_clientcerts": argNone,
	"reject_unknown_client_hostname": argNone, "reject_unknown_client": argNone,
	"reject_unknown_reverse_client_hostname": argNone,
	"check_client_access":                    argTable,
	"reject_rbl_client":                      argDomain, "reject_rbl": argDomain,
	"permit_dnswl_client": argDomain, "reject_rhsbl_client": argDomain,
	"permit_rhswl_client":          argDomain,
	"check_helo_access":            argTable,
	"reject_invalid_helo_hostname": argNone, "reject_invalid_hostname": argNone,
	"reject_non_fqdn_helo_hostname": argNone, "reject_non_fqdn_hostname": argNone,
	"reject_unknown_helo_hostname": argNone, "reject_unknown_hostname": argNone,
	"reject_rhsbl_helo":      argDomain,
	"check_sender_access":    argTable,
	"reject_non_fqdn_sender": argNone, "reject_unknown_sender_domain": argNone,
	"reject_unknown_address": argNone, "reject_unlisted_sender": argNone,
	"reject_rhsbl_sender":                          argDomain,
	"reject_authenticated_sender_login_mismatch":   argNone,
	"reject_unauthenticated_sender_login_mismatch": argNone,
	"reject_known_sender_login_mismatch":           argNone,
	"reject_sender_login_mismatch":                 argNone,
	"check_recipient_access":                       argTable,
	"reject_unauth_destination":                    argNone, "defer_unauth_destination": argNone,
	"permit_auth_destination": argNone, "reject_non_fqdn_recipient": argNone,
	"reject_unknown_recipient_domain": argNone,
	"reject_unlisted_recipient":       argNone, "check_recipient_maps": argNone,
	"reject_rhsbl_recipient": argDomain,
}

// defaultACL is the access check a bare "type:table" element stands for in
// each list ("" where Postfix refuses one).
var defaultACL = map[string]string{
	"client": "check_client_access", "helo": "check_helo_access",
	"sender": "check_sender_access", "recipient": "check_recipient_access",
}

// parser turns restriction lists into steps, opening each table once.
type parser struct {
	classes map[string]bool
	tables  map[string]maps.Table
	open    func(string) (maps.Table, error)
}

func newParser(classes []string, open func(string) (maps.Table, error)) *parser {
	p := &parser{classes: map[string]bool{}, tables: map[string]maps.Table{}, open: open}
	if p.open == nil {
		p.open = maps.Open
	}
	for _, c := range classes {
		p.classes[c] = true
	}
	return p
}

// table opens spec, or returns the table already opened for it.
func (p *parser) table(spec string) (maps.Table, error) {
	if t, ok := p.tables[spec]; ok {
		return t, nil
	}
	t, err := p.open(spec)
	if err != nil {
		return nil, err
	}
	p.tables[spec] = t
	return t, nil
}

func (p *parser) close() {
	for _, t := range p.tables {
		t.Close()
	}
}

// parse reads the elements of one list; kind is "client", "helo",
// "sender", "recipient", "data" or "eod" (which decides what a bare
// type:table means). Errors name what is wrong; the caller adds the
// parameter name.
func (p *parser) parse(elems []string, kind string) ([]step, error) {
	var out []step
	for i := 0; i < len(elems); i++ {
		e := elems[i]
		name := strings.ToLower(e)
		if strings.Contains(e, ":") {
			acl := defaultACL[kind]
			if acl == "" {
				return nil, fmt.Errorf("specify one of check_client_access, check_helo_access, check_sender_access or check_recipient_access before %q", e)
			}
			t, err := p.table(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", e, err)
			}
			out = append(out, step{name: acl, table: t, spec: e})
			continue
		}
		if p.classes[e] {
			out = append(out, step{name: name, class: e})
			continue
		}
		arg, known := restrictions[name]
		if !known {
			return nil, fmt.Errorf("unknown restriction %q", e)
		}
		s := step{name: name}
		switch arg {
		case argTable:
			if i+1 >= len(elems) || !strings.Contains(elems[i+1], ":") {
				return nil, fmt.Errorf("%s needs a type:table argument", e)
			}
			i++
			t, err := p.table(elems[i])
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", e, elems[i], err)
			}
			s.table, s.spec = t, elems[i]
		case argDomain:
			if i+1 >= len(elems) {
				return nil, fmt.Errorf("%s needs a domain name argument", e)
			}
			i++
			s.arg = elems[i]
			if _, f, ok := strings.Cut(s.arg, "="); ok {
				filt, err := parseIPFilter(f)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", e, s.arg, err)
				}
				s.filt = filt
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// splitList splits a restriction list found in an access table result the
// way Postfix does (argv_splitq): commas and white space separate,
// {braces} group.
func splitList(v string) []string {
	var out []string
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '{':
			depth, j := 0, i
			for ; j < len(v); j++ {
				if v[j] == '{' {
					depth++
				} else if v[j] == '}' {
					if depth--; depth == 0 {
						break
					}
				}
			}
			if j >= len(v) {
				out = append(out, strings.TrimSpace(v[i+1:]))
				return out
			}
			out = append(out, strings.TrimSpace(v[i+1:j]))
			i = j + 1
		default:
			j := i
			for j < len(v) && !strings.ContainsRune(", \t\r\n", rune(v[j])) {
				j++
			}
			out = append(out, v[i:j])
			i = j
		}
	}
	return out
}

// relayControls are the restrictions one of which the relay or recipient
// list must hold, so that the server is not an open relay by accident.
var relayControls = map[string]bool{
	"reject_unauth_destination": true, "defer_unauth_destination": true,
	"reject": true, "defer": true, "defer_if_permit": true,
}

// hasRelayControl tells whether a list, or a class it names, holds one of
// relayControls.
func hasRelayControl(list []step, classes map[string][]step, depth int) bool {
	if depth > 20 {
		return false
	}
	for _, s := range list {
		if relayControls[s.name] {
			return true
		}
		if s.class != "" && hasRelayControl(classes[s.class], classes, depth+1) {
			return true
		}
	}
	return false
}
