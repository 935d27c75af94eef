package config

import (
	"fmt"
	"strconv"
	"strings"
)

// This file implements Postfix's $name expansion (mac_expand(3)):
//
//	$name, ${name}, $(name)         the value of name, itself expanded
//	${name?text}, ${name?{text}}    text if name's value is non-empty
//	${name:text}, ${name:{text}}    text if name's value is empty or undefined
//	${name?{t1}:{t2}}               t1 or t2
//	${{a} OP {b}}                   "true" or "", OP one of == != < <= > >=
//	                                (numeric when both sides are integers)
//	                                or ==level !=level <level <=level >level
//	                                >level (compatibility-level comparison),
//	                                optionally followed by ?{t1}:{t2}
//	$$                              a literal $
//
// Unlike Postfix, which warns and keeps going, a syntax error or a loop is an
// error: Load reports it with file:line.

// maxNesting bounds ${...} nesting inside one value, like Postfix's
// "unreasonable macro call nesting" limit, so hostile input cannot exhaust
// the stack.
const maxNesting = 100

// maxValueLen bounds one expanded value, so that a main.cf whose values
// refer to each other many times over cannot blow up memory.
const maxValueLen = 1 << 20

// expander expands parameter values. raw returns a parameter's unexpanded
// value and whether it is defined. In scan mode (scan != nil) nothing is
// expanded: every name referenced in any branch is reported to scan.
type expander struct {
	raw    func(name string) (string, bool)
	isRaw  func(name string) bool
	test   func(name string) (string, bool) // for ? and :; nil: raw
	scan   func(name string)
	cache  map[string]string
	active []string
}

// ExpandWith expands text with the syntax above over the names lookup
// answers instead of main.cf parameters: local(8)'s delivery attributes in
// forward_path and luser_relay, for example. Values are used as they are,
// not expanded again. lookup is told whether the value is substituted
// (use: $name, ${name}) or only tested (${name?...}, ${name:...}), as
// Postfix's mac_expand tells its lookup function; it returns false for an
// undefined name, which substitutes as empty.
func ExpandWith(text string, lookup func(name string, use bool) (string, bool)) (string, error) {
	x := &expander{
		raw:   func(name string) (string, bool) { return lookup(name, true) },
		isRaw: func(string) bool { return true },
		test:  func(name string) (string, bool) { return lookup(name, false) },
		cache: map[string]string{},
	}
	return x.text(text, 0)
}

func newExpander(raw func(string) (string, bool), isRaw func(string) bool) *expander {
	return &expander{raw: raw, isRaw: isRaw, cache: map[string]string{}}
}

// param returns the expanded value of a parameter.
func (x *expander) param(name string) (string, bool, error) {
	if v, ok := x.cache[name]; ok {
		return v, true, nil
	}
	for i, a := range x.active {
		if a == name {
			loop := append(append([]string{}, x.active[i:]...), name)
			return "", false, fmt.Errorf("parameter loop: $%s", strings.Join(loop, " -> $"))
		}
	}
	v, ok := x.raw(name)
	if !ok {
		return "", false, nil
	}
	if x.isRaw != nil && x.isRaw(name) {
		x.cache[name] = v
		return v, true, nil
	}
	x.active = append(x.active, name)
	out, err := x.text(v, 0)
	x.active = x.active[:len(x.active)-1]
	if err != nil {
		return "", false, err
	}
	if len(out) > maxValueLen {
		return "", false, fmt.Errorf("expansion of $%s is longer than %d bytes", name, maxValueLen)
	}
	x.cache[name] = out
	return out, true, nil
}

func isNameChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

const exprSpace = " \t\r\n"

// text expands every $ reference in s.
func (x *expander) text(s string, depth int) (string, error) {
	if depth > maxNesting {
		return "", fmt.Errorf("unreasonable macro call nesting: %q", s)
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return "", fmt.Errorf("empty macro name: %q", s)
		}
		switch n := s[i+1]; {
		case n == '$':
			b.WriteByte('$')
			i += 2
		case n == '{' || n == '(':
			closer := byte('}')
			if n == '(' {
				closer = ')'
			}
			level, j := 1, i+2
			for ; j < len(s); j++ {
				if s[j] == n {
					level++
				} else if s[j] == closer {
					if level--; level == 0 {
						break
					}
				}
			}
			if j >= len(s) {
				return "", fmt.Errorf("truncated macro reference: %q", s)
			}
			out, err := x.expr(s[i+2:j], depth+1)
			if err != nil {
				return "", err
			}
			b.WriteString(out)
			i = j + 1
		case isNameChar(n):
			j := i + 1
			for j < len(s) && isNameChar(s[j]) {
				j++
			}
			out, err := x.use(s[i+1 : j])
			if err != nil {
				return "", err
			}
			b.WriteString(out)
			i = j
		default:
			return "", fmt.Errorf("empty macro name: %q", s)
		}
	}
	return b.String(), nil
}

// use is an unconditional $name reference.
func (x *expander) use(name string) (string, error) {
	if x.scan != nil {
		x.scan(name)
		return "", nil
	}
	v, _, err := x.param(name)
	return v, err
}

// curly extracts the payload of a {...} group at the start of s (after
// optional whitespace) and returns it with the rest of s after the closing
// brace and any whitespace. ok is false when s does not start with '{'.
func curly(s string) (payload, rest string, ok bool, err error) {
	t := strings.TrimLeft(s, exprSpace)
	if t == "" || t[0] != '{' {
		return "", s, false, nil
	}
	level := 0
	for i := 0; i < len(t); i++ {
		switch t[i] {
		case '{':
			level++
		case '}':
			if level--; level == 0 {
				return t[1:i], strings.TrimLeft(t[i+1:], exprSpace), true, nil
			}
		}
	}
	return "", "", false, fmt.Errorf("unbalanced {} in attribute expression: %q", t)
}

// expr handles the inside of ${...}.
func (x *expander) expr(s string, depth int) (string, error) {
	var value string // the tested or used value
	var isLogical bool
	rest := s
	left, after, ok, err := curly(s)
	if err != nil {
		return "", err
	}
	if ok {
		isLogical = true
		value, rest, err = x.logical(left, after, depth)
		if err != nil {
			return "", err
		}
	} else {
		// A named parameter, optionally followed by ? or :.
		j := 0
		for j < len(rest) && rest[j] != '?' && rest[j] != ':' {
			j++
		}
		name := strings.Trim(rest[:j], exprSpace)
		if name == "" {
			return "", fmt.Errorf("empty macro name: %q", s)
		}
		for k := 0; k < len(name); k++ {
			if !isNameChar(name[k]) {
				return "", fmt.Errorf("attribute name syntax error at: \"...%s>>>%s\"", name[:k], name[k:])
			}
		}
		rest = rest[j:]
		if rest == "" {
			return x.use(name)
		}
		if x.scan != nil {
			x.scan(name)
		} else {
			// Like Postfix, ? and : test the parameter's value as written,
			// not its expansion.
			test := x.test
			if test == nil {
				test = x.raw
			}
			value, _ = test(name)
		}
	}
	if rest == "" {
		if isLogical {
			return value, nil
		}
		return "", nil
	}
	var b strings.Builder
	op := rest[0]
	rest = rest[1:]
	if op != '?' && op != ':' {
		return "", fmt.Errorf("\"?\" or \":\" expected at: \"...}>>>%s\"", rest)
	}
	if op == '?' {
		payload, after, ok, err := curly(rest)
		if err != nil {
			return "", err
		}
		if !ok {
			payload, after = rest, ""
		}
		if value != "" || x.scan != nil {
			out, err := x.text(payload, depth+1)
			if err != nil {
				return "", err
			}
			b.WriteString(out)
		}
		if after == "" {
			return b.String(), nil
		}
		if after[0] != ':' {
			return "", fmt.Errorf("\":\" expected at: \"...%s}>>>%s\"", payload, after)
		}
		rest = after[1:]
	}
	payload, after, ok, err := curly(rest)
	if err != nil {
		return "", err
	}
	if !ok {
		payload, after = rest, ""
	}
	if value == "" || x.scan != nil {
		out, err := x.text(payload, depth+1)
		if err != nil {
			return "", err
		}
		b.WriteString(out)
	}
	if after != "" {
		return "", fmt.Errorf("unexpected input at: \"...%s}>>>%s\"", payload, after)
	}
	return b.String(), nil
}

// logical evaluates "{left} OP {right}" and returns "true" or "" and the
// text after the right operand.
func (x *expander) logical(left, s string, depth int) (string, string, error) {
	j := 0
	for j < len(s) && strings.IndexByte("<>!=?+-*/~&|%", s[j]) >= 0 {
		j++
	}
	op := s[:j]
	s = s[j:]
	if strings.HasPrefix(s, "level") {
		op += "level"
		s = s[len("level"):]
	}
	switch op {
	case "==", "!=", "<", "<=", ">", ">=",
		"==level", "!=level", "<level", "<=level", ">level", ">=level":
	default:
		return "", "", fmt.Errorf("\"==\" or \"!=\" or \"<\" or \"<=\" or \">=\" or \">\" expected at: \"...%s}>>>%s\"", left, op+s)
	}
	right, rest, ok, err := curly(s)
	if err != nil {
		return "", "", err
	}
	if !ok {
		return "", "", fmt.Errorf("\"{expression}\" expected at: \"...{%s} %s>>>%s\"", left, op, s)
	}
	l, err := x.text(left, depth+1)
	if err != nil {
		return "", "", err
	}
	r, err := x.text(right, depth+1)
	if err != nil {
		return "", "", err
	}
	if x.scan != nil {
		return "", rest, nil
	}
	var cmp int
	if base, isLevel := strings.CutSuffix(op, "level"); isLevel {
		op = base
		cmp, err = compareLevels(l, r)
		if err != nil {
			return "", "", err
		}
	} else if op == "==" || op == "!=" {
		cmp = strings.Compare(l, r)
	} else {
		cmp = compareNumbers(l, r)
	}
	var t bool
	switch op {
	case "==":
		t = cmp == 0
	case "!=":
		t = cmp != 0
	case "<":
		t = cmp < 0
	case "<=":
		t = cmp <= 0
	case ">":
		t = cmp > 0
	case ">=":
		t = cmp >= 0
	}
	if t {
		return "true", rest, nil
	}
	return "", rest, nil
}

// compareNumbers compares as integers when both sides are integers, else
// as strings.
func compareNumbers(a, b string) int {
	x, errA := strconv.ParseInt(a, 10, 64)
	y, errB := strconv.ParseInt(b, 10, 64)
	if errA != nil || errB != nil {
		return strings.Compare(a, b)
	}
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// compareLevels compares compatibility levels "major[.minor[.patch]]"
// numerically, field by field; missing fields are 0.
func compareLevels(a, b string) (int, error) {
	pa, err := parseLevel(a)
	if err != nil {
		return 0, err
	}
	pb, err := parseLevel(b)
	if err != nil {
		return 0, err
	}
	for i := range pa {
		switch {
		case pa[i] < pb[i]:
			return -1, nil
		case pa[i] > pb[i]:
			return 1, nil
		}
	}
	return 0, nil
}

func parseLevel(s string) ([3]int64, error) {
	var out [3]int64
	parts := strings.Split(s, ".")
	if len(parts) > 3 {
		return out, fmt.Errorf("malformed compatibility level syntax: %q", s)
	}
	for i, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return out, fmt.Errorf("malformed compatibility level syntax: %q", s)
		}
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return out, fmt.Errorf("malformed compatibility level syntax: %q", s)
		}
		out[i] = n
	}
	return out, nil
}

// references returns the names a value refers to as $name in any branch,
// for telling user-defined parameters from unused ones.
func references(value string) []string {
	var names []string
	x := &expander{
		raw:   func(string) (string, bool) { return "", false },
		scan:  func(n string) { names = append(names, n) },
		cache: map[string]string{},
	}
	x.text(value, 0) // a syntax error just ends the scan; Load reports it
	return names
}
