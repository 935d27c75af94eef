// Package config reads main.cf and master.cf, Postfix-compatible: the
// parameter registry with defaults and descriptions, $name expansion, lists,
// typed values, and master.cf service definitions.
//
// Each area declares its parameters once, in params_<area>.go, with
// Postfix's default where Postfix has the parameter. Load reads DIR/main.cf
// over those defaults, expands every value ($name, ${name?text},
// ${name:text}, ${{a} == {b} ? {x} : {y}}, ...) and checks it against its
// type, so that the accessors (Get, List, Bool, Int, Duration, Size) never
// fail. A syntax error, a bad value or an expansion loop is an error naming
// file:line; an unknown parameter is a warning, as with postconf.
// LoadMaster parses master.cf into Services; Service.Config applies a
// service's -o overrides. EditMain edits main.cf in place (postconf -e, -X,
// -#).
//
// Implements the formats of postconf(5) (main.cf syntax, parameter
// expansion as in mac_expand(3)) and master(5) (master.cf), and the
// behaviour of postconf(1) that `mailhorn conf` exposes.
//
// Security: main.cf and master.cf are trusted input (owned by root), but
// parsing never panics and is fuzzed (FuzzMainCF, FuzzMasterCF, FuzzExpand).
// Expansion is bounded: ${...} nesting is limited to 100 levels within one
// value, loops between parameters are detected and reported, and an
// expanded value longer than 1 MiB is an error, so a hostile or mistaken
// main.cf cannot hang the process or exhaust its memory. EditMain writes a
// temporary file in the same directory, syncs it and renames it over
// main.cf, so readers see the old or the new file, never a partial one.
package config
