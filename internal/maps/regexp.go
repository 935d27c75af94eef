package maps

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Rule operations of regexp, pcre and cidr tables.
const (
	opMatch = iota
	opIf
	opEndif
)

// segment is a piece of a result: literal text, or $n when n > 0.
type segment struct {
	lit string
	n   int
}

// reRule is one rule of a regexp: or pcre: table.
type reRule struct {
	op       int
	lineno   int
	re1, re2 *regexp.Regexp
	m1, m2   bool // positive (true) or negated match
	result   []segment
	maxSub   int
	endif    int // for opIf: index of the matching endif, -1 if none
}

// reTable is a parsed regexp: or pcre: file.
type reTable struct {
	rules []reRule
}

// reDialect is what differs between regexp: (POSIX regcomp) and pcre:.
type reDialect struct {
	kind string // "regexp" or "pcre", for messages
	// compile turns pattern text and its flag letters into a Go regexp;
	// badFlag is the first unknown flag letter.
	compile func(pat, flags string) (*regexp.Regexp, error)
	flags   string // accepted flag letters
}

func openRegexp(name string, o Options) (Table, error) {
	return newFileTable(name, true, func(path string) (matcher, error) {
		return parseRETable(path, regexpDialect, o.warn)
	})
}

func openPCRE(name string, o Options) (Table, error) {
	return newFileTable(name, true, func(path string) (matcher, error) {
		return parseRETable(path, pcreDialect, o.warn)
	})
}

func parseRETable(path string, d reDialect, warn func(string)) (*reTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseRESource(f, path, d, warn)
}

// parseRESource reads regexp_table(5) / pcre_table(5) rules. Lines that
// Postfix skips with a warning are skipped with the same warning; a
// pattern Go's RE2 engine cannot compile is an error, since silently
// dropping a rule Postfix would apply changes what the table answers.
func parseRESource(r io.Reader, path string, d reDialect, warn func(string)) (*reTable, error) {
	t := &reTable{}
	var stack []int
	lr := NewLineReader(r, path, warn)
	for {
		l, err := lr.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
		line := strings.TrimRight(l.Text, spaceChars)
		if line == "" {
			continue
		}
		w := func(format string, a ...any) {
			warn(fmt.Sprintf("%s map %s, line %d: ", d.kind, path, l.Lineno) + fmt.Sprintf(format, a...))
		}
		rule, ok, err := parseRERule(line, l.Lineno, len(stack), d, w)
		if err != nil {
			return nil, fmt.Errorf("%s, line %d: %w", path, l.Lineno, err)
		}
		if !ok {
			continue
		}
		switch rule.op {
		case opIf:
			stack = append(stack, len(t.rules))
		case opEndif:
			t.rules[stack[len(stack)-1]].endif = len(t.rules)
			stack = stack[:len(stack)-1]
		}
		t.rules = append(t.rules, rule)
	}
	for i := len(stack) - 1; i >= 0; i-- {
		warn(fmt.Sprintf("%s map %s, line %d: IF has no matching ENDIF", d.kind, path, t.rules[stack[i]].lineno))
	}
	return t, nil
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// parseRERule parses one logical line; ok=false means "skipped with a
// warning".
func parseRERule(p string, lineno, nesting int, d reDialect, warn func(string, ...any)) (reRule, bool, error) {
	rule := reRule{lineno: lineno, endif: -1}
	switch {
	case !isAlnum(p[0]):
		pat1, flags1, m1, rest, ok := getPattern(p, d, warn)
		if !ok {
			return rule, false, nil
		}
		var pat2, flags2 string
		m2 := true
		hasSecond := false
		if strings.HasPrefix(rest, "!") {
			pat2, flags2, m2, rest, ok = getPattern(rest, d, warn)
			if !ok {
				return rule, false, nil
			}
			hasSecond = true
		}
		rest = strings.TrimLeft(rest, spaceChars)
		if rest == "" {
			warn("no replacement text: using empty string")
		}
		result, maxSub, msg := parseResult(rest)
		if msg != "" {
			warn("%s", msg)
			warn("bad replacement syntax: skipping this rule")
			return rule, false, nil
		}
		if maxSub > 0 && !m1 {
			warn("$number found in negative match replacement text: skipping this rule")
			return rule, false, nil
		}
		re1, err := d.compile(pat1, flags1)
		if err != nil {
			return rule, false, err
		}
		if maxSub > re1.NumSubexp() {
			warn("out of range replacement index \"%d\": skipping this rule", maxSub)
			return rule, false, nil
		}
		rule.op, rule.re1, rule.m1, rule.m2, rule.result, rule.maxSub = opMatch, re1, m1, m2, result, maxSub
		if hasSecond {
			if rule.re2, err = d.compile(pat2, flags2); err != nil {
				return rule, false, err
			}
		}
		return rule, true, nil
	case len(p) >= 2 && strings.EqualFold(p[:2], "if") && (len(p) == 2 || !isAlnum(p[2])):
		pat, flags, m, rest, ok := getPattern(strings.TrimLeft(p[2:], spaceChars), d, warn)
		if !ok {
			return rule, false, nil
		}
		if rest = strings.TrimLeft(rest, spaceChars); rest != "" {
			warn("ignoring extra text after IF statement: \"%s\"", rest)
			warn("do not prepend whitespace to statements between IF and ENDIF")
		}
		re, err := d.compile(pat, flags)
		if err != nil {
			return rule, false, err
		}
		rule.op, rule.re1, rule.m1 = opIf, re, m
		return rule, true, nil
	case len(p) >= 5 && strings.EqualFold(p[:5], "endif") && (len(p) == 5 || !isAlnum(p[5])):
		if nesting == 0 {
			warn("ignoring ENDIF without matching IF")
			return rule, false, nil
		}
		if strings.TrimLeft(p[5:], spaceChars) != "" {
			warn("ignoring extra text after ENDIF")
		}
		rule.op = opEndif
		return rule, true, nil
	default:
		warn("ignoring unrecognized request")
		return rule, false, nil
	}
}

// getPattern reads [!...]<delim>pattern<delim>flags from p.
func getPattern(p string, d reDialect, warn func(string, ...any)) (pat, flags string, match bool, rest string, ok bool) {
	match = true
	i := 0
	for ; i < len(p); i++ {
		if p[i] == '!' {
			match = !match
		} else if !isSpace(p[i]) {
			break
		}
	}
	if i == len(p) {
		warn("no regexp: skipping this rule")
		return "", "", false, "", false
	}
	delim := p[i]
	i++
	start := i
	for ; i < len(p); i++ {
		if p[i] == '\\' {
			if i+1 < len(p) {
				i++
				continue
			}
			i = len(p)
			break
		}
		if p[i] == delim {
			break
		}
	}
	if i >= len(p) {
		warn("no closing regexp delimiter \"%c\": skipping this rule", delim)
		return "", "", false, "", false
	}
	pat = p[start:i]
	i++
	fstart := i
	for ; i < len(p) && !isSpace(p[i]) && p[i] != '!'; i++ {
		if !strings.ContainsRune(d.flags, rune(p[i])) {
			warn("unknown regexp option \"%c\": skipping this rule", p[i])
			return "", "", false, "", false
		}
	}
	return pat, p[fstart:i], match, p[i:], true
}

// parseResult splits result text into literals and $n references, as
// Postfix's mac_parse does: $$ is a dollar, $n, ${n} and $(n) name
// submatch n. msg describes bad syntax.
func parseResult(s string) (segs []segment, maxSub int, msg string) {
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			segs = append(segs, segment{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			lit.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '$' {
			lit.WriteByte('$')
			i++
			continue
		}
		var name string
		if i+1 < len(s) && (s[i+1] == '{' || s[i+1] == '(') {
			closer := byte('}')
			if s[i+1] == '(' {
				closer = ')'
			}
			j := strings.IndexByte(s[i+2:], closer)
			if j < 0 {
				return nil, 0, fmt.Sprintf("truncated macro reference: \"%s\"", s)
			}
			name = s[i+2 : i+2+j]
			i += 2 + j
		} else {
			j := i + 1
			for j < len(s) && (isAlnum(s[j]) || s[j] == '_') {
				j++
			}
			name = s[i+1 : j]
			if name == "" {
				return nil, 0, fmt.Sprintf("empty macro name: \"%s\"", s)
			}
			i = j - 1
		}
		for _, c := range []byte(name) {
			if c < '0' || c > '9' {
				return nil, 0, fmt.Sprintf("non-numeric replacement index \"%s\"", name)
			}
		}
		n, err := strconv.Atoi(name)
		if err != nil || n < 1 {
			return nil, 0, fmt.Sprintf("out-of-range replacement index \"%s\"", name)
		}
		flush()
		segs = append(segs, segment{n: n})
		maxSub = max(maxSub, n)
	}
	flush()
	return segs, maxSub, ""
}

// matches applies a pattern that is negated when want is false.
func matches(re *regexp.Regexp, want bool, key string) bool {
	return re.MatchString(key) == want
}

func (t *reTable) match(key string) (string, bool) {
	for i := 0; i < len(t.rules); i++ {
		r := &t.rules[i]
		switch r.op {
		case opMatch:
			var loc []int
			if r.maxSub > 0 {
				loc = r.re1.FindStringSubmatchIndex(key)
				if loc == nil {
					continue
				}
			} else if !matches(r.re1, r.m1, key) {
				continue
			}
			if r.re2 != nil && !matches(r.re2, r.m2, key) {
				continue
			}
			return expand(r.result, key, loc), true
		case opIf:
			if matches(r.re1, r.m1, key) {
				continue
			}
			if r.endif < 0 {
				return "", false
			}
			i = r.endif
		}
	}
	return "", false
}

func expand(segs []segment, key string, loc []int) string {
	if len(segs) == 1 && segs[0].n == 0 {
		return segs[0].lit
	}
	var b strings.Builder
	for _, s := range segs {
		if s.n == 0 {
			b.WriteString(s.lit)
			continue
		}
		if lo, hi := loc[2*s.n], loc[2*s.n+1]; lo >= 0 {
			b.WriteString(key[lo:hi])
		}
	}
	return b.String()
}

// compileErr explains an RE2 compile failure.
func compileErr(kind, pat string, err error) error {
	return fmt.Errorf("%s pattern /%s/ is not supported by Go's RE2 syntax (no backreferences, lookaround or \\< \\>): %w", kind, pat, err)
}

// regexpDialect follows regcomp(3) with REG_EXTENDED: case-insensitive
// unless the i flag toggles it, '.' matches newline unless m (REG_NEWLINE)
// is given, and leftmost-longest matching as POSIX requires.
var regexpDialect = reDialect{
	kind:  "regexp",
	flags: "imx",
	compile: func(pat, flags string) (*regexp.Regexp, error) {
		icase, newline, extended := true, false, true
		for _, f := range flags {
			switch f {
			case 'i':
				icase = !icase
			case 'm':
				newline = !newline
			case 'x':
				extended = !extended
			}
		}
		if !extended {
			return nil, fmt.Errorf("regexp pattern /%s/: basic regular expressions (flag x) are not supported; write an extended one", pat)
		}
		prefix := "(?s)"
		if newline {
			prefix = "(?m)"
		}
		if icase {
			prefix += "(?i)"
		}
		re, err := regexp.Compile(prefix + pat)
		if err != nil {
			return nil, compileErr("regexp", pat, err)
		}
		re.Longest()
		return re, nil
	},
}

// pcreDialect follows Postfix's dict_pcre flags on top of Go's Perl-like
// RE2 syntax. Postfix compiles with CASELESS and DOTALL on: i and s toggle
// them off; m toggles multi-line, U ungreedy; x (extended: whitespace and
// # comments dropped), A (anchored), E (dollar end only: what Go's $
// already does) and X (accepted) switch on.
var pcreDialect = reDialect{
	kind:  "pcre",
	flags: "imsxAEUX",
	compile: func(pat, flags string) (*regexp.Regexp, error) {
		icase, dotall, multiline, ungreedy := true, true, false, false
		anchored, extended := false, false
		for _, f := range flags {
			switch f {
			case 'i':
				icase = !icase
			case 'm':
				multiline = !multiline
			case 's':
				dotall = !dotall
			case 'U':
				ungreedy = !ungreedy
			case 'A':
				anchored = true
			case 'x':
				extended = true
			}
		}
		var prefix string
		for _, f := range []struct {
			on   bool
			flag string
		}{{icase, "(?i)"}, {dotall, "(?s)"}, {multiline, "(?m)"}, {ungreedy, "(?U)"}} {
			if f.on {
				prefix += f.flag
			}
		}
		expr := pat
		if extended {
			expr = stripExtended(expr)
		}
		if anchored {
			expr = `\A(?:` + expr + `)`
		}
		re, err := regexp.Compile(prefix + expr)
		if err != nil {
			return nil, compileErr("pcre", pat, err)
		}
		return re, nil
	},
}

// stripExtended removes the whitespace and #-comments that PCRE_EXTENDED
// ignores (outside character classes, unless escaped).
func stripExtended(p string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			b.WriteByte(c)
			b.WriteByte(p[i+1])
			i++
			continue
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
		case isSpace(c):
			continue
		case c == '#':
			for i < len(p) && p[i] != '\n' {
				i++
			}
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
