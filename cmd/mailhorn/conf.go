package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"mailhorn/internal/config"
)

// confFlags are the options of mailhorn conf, postconf(1)'s letters.
type confFlags struct {
	dir                      string
	n, d, h, x, f, e, X, hsh bool // -n -d -h -x -f -e -X -#
	M                        bool
}

// parseConfArgs reads postconf-style options: single letters that may be
// grouped (-nf, -Mf, -xh), -c taking a value, -- ending the options.
func parseConfArgs(args []string) (confFlags, []string, error) {
	var f confFlags
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			args = args[1:]
			break
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		args = args[1:]
		for i := 1; i < len(a); i++ {
			switch a[i] {
			case 'c':
				v := a[i+1:]
				if v == "" {
					if len(args) == 0 {
						return f, nil, fmt.Errorf("option -c requires a directory")
					}
					v, args = args[0], args[1:]
				}
				f.dir = v
				i = len(a)
			case 'n':
				f.n = true
			case 'd':
				f.d = true
			case 'h':
				f.h = true
			case 'x':
				f.x = true
			case 'f':
				f.f = true
			case 'e':
				f.e = true
			case 'X':
				f.X = true
			case '#':
				f.hsh = true
			case 'M':
				f.M = true
			default:
				return f, nil, fmt.Errorf("unknown option -%c (usage: mailhorn conf [-c DIR] [-dfhnMx] [-e name=value...] [-X name...] [-# name...] [name...])", a[i])
			}
		}
	}
	edits := 0
	for _, b := range []bool{f.e, f.X, f.hsh, f.M} {
		if b {
			edits++
		}
	}
	if edits > 1 {
		return f, nil, fmt.Errorf("-e, -X, -# and -M are mutually exclusive")
	}
	return f, args, nil
}

// runConf is mailhorn conf, the postconf(1) equivalent.
func runConf(ctx context.Context, e *env, args []string) int {
	fatal := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "mailhorn conf: fatal: "+format+"\n", a...)
		return 1
	}
	warn := func(msg string) { fmt.Fprintf(e.stderr, "mailhorn conf: warning: %s\n", msg) }
	f, names, err := parseConfArgs(args)
	if err != nil {
		return fatal("%v", err)
	}
	dir := config.Dir(f.dir, e.getenv)

	switch {
	case f.e, f.X, f.hsh:
		return confEdit(e, dir, f, names, fatal, warn)
	case f.M:
		return confMaster(e, dir, f, names, fatal, warn)
	}

	var c *config.Config
	if f.d {
		c, err = config.LoadDefaults(dir)
	} else {
		c, err = config.Load(dir, warn)
	}
	if err != nil {
		return fatal("%v", err)
	}
	if len(names) == 0 {
		if f.n {
			names = c.SetNames()
		} else {
			names = c.Names()
		}
	}
	for _, name := range names {
		if !c.Known(name) {
			warn(name + ": unknown parameter")
			continue
		}
		v, _ := c.Raw(name)
		if f.x {
			v = c.Get(name)
		}
		printParam(e.stdout, name, v, f.h, f.f)
	}
	return 0
}

// printParam writes "name = value" (or the value alone) the way postconf
// does: whitespace runs become one space and, when folding, lines are
// wrapped before 80 columns with a 4-space indent.
func printParam(w io.Writer, name, value string, valueOnly, fold bool) {
	text := name + " = " + value
	if valueOnly {
		text = value
	}
	fmt.Fprint(w, foldLine(text, fold))
}

func foldLine(text string, fold bool) string {
	const limit, indent = 80, "    "
	var b strings.Builder
	n := 0
	for _, word := range strings.Fields(text) {
		if n > 0 {
			if !fold || n+len(word) < limit {
				b.WriteByte(' ')
				n++
			} else {
				b.WriteString("\n" + indent)
				n = len(indent)
			}
		}
		b.WriteString(word)
		n += len(word)
	}
	b.WriteByte('\n')
	return b.String()
}

func confEdit(e *env, dir string, f confFlags, args []string, fatal func(string, ...any) int, warn func(string)) int {
	var ed config.Edit
	switch {
	case f.e:
		for _, a := range args {
			name, value, ok := strings.Cut(a, "=")
			name = strings.TrimSpace(name)
			if !ok {
				return fatal("missing '=' after attribute name: %q", a)
			}
			if name == "" {
				return fatal("missing attribute name: %q", a)
			}
			ed.Set = append(ed.Set, [2]string{name, strings.TrimSpace(value)})
		}
	case f.X:
		ed.Remove = args
	case f.hsh:
		ed.Comment = args
	}
	warnings, err := config.EditMain(dir, ed)
	for _, w := range warnings {
		warn(w)
	}
	if err != nil {
		return fatal("%v", err)
	}
	return 0
}

func confMaster(e *env, dir string, f confFlags, filters []string, fatal func(string, ...any) int, warn func(string)) int {
	services, err := config.LoadMaster(dir)
	if err != nil {
		return fatal("%v", err)
	}
	var c *config.Config
	if f.x {
		if c, err = config.Load(dir, nil); err != nil {
			return fatal("%v", err)
		}
	}
	matched := make([]bool, len(filters))
	for _, s := range services {
		show := len(filters) == 0
		for i, flt := range filters {
			name, typ, hasType := strings.Cut(flt, "/")
			if name == s.Name && (!hasType || typ == s.Type) {
				show, matched[i] = true, true
			}
		}
		if !show {
			continue
		}
		var expand func(string) string
		if c != nil {
			expand = serviceExpander(c, s, warn)
		}
		fmt.Fprint(e.stdout, s.Format(f.f, expand))
	}
	for i, flt := range filters {
		if !matched[i] {
			warn(flt + ": no match")
		}
	}
	return 0
}

// serviceExpander expands -o values as the service sees them: with its own
// overrides and service_name in effect (postconf -Mx).
func serviceExpander(c *config.Config, s config.Service, warn func(string)) func(string) string {
	sc, err := s.Config(c)
	if err != nil {
		warn(err.Error())
		sc = c
	}
	return func(v string) string {
		name, value, ok := strings.Cut(v, "=")
		if !ok {
			return v
		}
		x, err := sc.Expand(value)
		if err != nil {
			warn(fmt.Sprintf("%s/%s: -o %s: %v", s.Name, s.Type, v, err))
			return v
		}
		return name + "=" + x
	}
}
