package config

import (
	"sort"
	"sync"
)

// Type is how a parameter's value is read and checked.
type Type int

const (
	String   Type = iota
	List          // comma and/or whitespace separated
	Bool          // yes / no
	Int           // decimal integer
	Duration      // number with unit s, m, h, d, w (default unit per parameter)
	Size          // bytes
)

// String names the type as docs/parameters.md shows it.
func (t Type) String() string {
	switch t {
	case List:
		return "list"
	case Bool:
		return "bool"
	case Int:
		return "int"
	case Duration:
		return "time"
	case Size:
		return "size"
	}
	return "string"
}

// Param declares one main.cf parameter, once: its name, its default (Postfix's
// where Postfix has the parameter, possibly referring to others as $name), its
// type and a one-line description for docs/parameters.md.
type Param struct {
	Name    string
	Default string
	Type    Type
	Unit    byte // default unit letter for Duration ('s', 'm', 'h', 'd', 'w')
	Doc     string
	// Raw parameters are never $name-expanded by the configuration: their
	// value is expanded later by the program that uses it, with its own
	// attributes (mailbox_command's $HOME, $EXTENSION, ...). Postfix calls
	// these "raw" parameters.
	Raw bool
	// Values, when set, lists the only values a String parameter takes
	// (compared case-insensitively).
	Values []string
}

// registry is every parameter mailhorn knows, assembled from the per-area
// lists (params_*.go) so that each component declares its own.
func registry() [][]Param {
	return [][]Param{coreParams, mapsParams, aliasesParams, addressParams, cleanupParams, smtpdParams, restrictParams, saslParams, authParams, storeParams, pop3dParams, imapdParams, localParams, smtpParams}
}

// paramIndex maps names to their declarations. It is computed once from the
// (constant) registry and never written afterwards.
var paramIndex = sync.OnceValue(func() map[string]Param {
	m := map[string]Param{}
	for _, list := range registry() {
		for _, p := range list {
			if _, dup := m[p.Name]; !dup {
				m[p.Name] = p
			}
		}
	}
	return m
})

// Lookup returns the declaration of a registered parameter.
func Lookup(name string) (Param, bool) {
	p, ok := paramIndex()[name]
	return p, ok
}

// Params returns every registered parameter, sorted by name.
func Params() []Param {
	idx := paramIndex()
	out := make([]Param, 0, len(idx))
	for _, p := range idx {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// duplicateParams lists names declared more than once across the per-area
// lists; the registry test requires it to be empty.
func duplicateParams() []string {
	seen := map[string]int{}
	for _, list := range registry() {
		for _, p := range list {
			seen[p.Name]++
		}
	}
	var dups []string
	for n, c := range seen {
		if c > 1 {
			dups = append(dups, n)
		}
	}
	sort.Strings(dups)
	return dups
}
