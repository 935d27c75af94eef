package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"mailhorn/internal/aliases"
	"mailhorn/internal/maps"
)

const aliasUsage = "usage: mailhorn alias [-Nfinoprsvw] [-c config_dir] [-d key] [-q key] [type:]file..."

// postalias is how postalias(1) does the shared table operations.
var postalias = manners{
	sep:       ":\t",
	lazy:      true,
	dumpFirst: true,
	queryKey:  func(line string) (string, bool) { return line, true },
	deleteKey: func(line string) (string, bool) { return line, true },
}

// runAlias is mailhorn alias, the postalias(1) equivalent: build alias
// tables from aliases(5) files, query (-q), list (-s) or delete (-d)
// entries. Exit status: 0 done or found, 1 not found (-q, -d), 2 on errors.
// The options are postmap's, so they are parsed by parseMapArgs.
func runAlias(ctx context.Context, e *env, args []string) int {
	return tableMain(ctx, e, args, "mailhorn alias", aliasUsage, postalias, buildAlias)
}

// runNewaliases is newaliases(1): rebuild every table named in
// alias_database from its source file. It takes -c DIR (and ignores -v, -o
// and -p as postalias does); exit status 0, or 2 on errors.
func runNewaliases(ctx context.Context, e *env, args []string) int {
	o, rest, err := parseMapArgs(args)
	if err == nil && (len(rest) > 0 || o.hasQuery || o.hasDel || o.dump || o.incr) {
		err = errors.New("newaliases takes no tables and only the options -c, -f, -r, -w, -v")
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "newaliases: fatal: %v\nusage: newaliases [-c config_dir]\n", err)
		return 2
	}
	t, err := newTableTool(e, "newaliases", o, postalias)
	if err != nil {
		fmt.Fprintf(e.stderr, "newaliases: fatal: %v\n", err)
		return 2
	}
	for _, f := range t.cfg.List("alias_database") {
		if err := buildAlias(t, t.spec(f)); err != nil {
			fmt.Fprintf(e.stderr, "newaliases: fatal: %v\n", err)
			return 2
		}
	}
	return 0
}

// buildAlias compiles the aliases file of spec into its CDB file, or with
// -i adds the entries read from stdin to the existing table. Lines that are
// not name: value are reported with file and line and skipped, as
// postalias does; duplicates keep the first value (-r: the last; -w:
// quietly).
func buildAlias(t *tableTool, spec string) error {
	typ, name, dbPath, err := indexed(spec, "are built")
	if err != nil {
		return err
	}
	var src io.Reader = t.e.stdin
	srcName := "stdin"
	if !t.o.incr {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		src, srcName = f, name
	}
	entries, problems, err := aliases.Parse(src, srcName, aliases.ParseOptions{NoFold: t.o.noFold})
	if err != nil {
		return err
	}
	mode := aliases.DupWarn
	switch {
	case t.o.replace:
		mode = aliases.DupReplace
	case t.o.quietDup:
		mode = aliases.DupIgnore
	}
	entries, dups := aliases.Dedup(entries, srcName, mode)
	problems = append(problems, dups...)
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
	for _, p := range problems {
		t.warn(p.Error())
	}
	return t.writeCDB(typ, dbPath, name, func(w *maps.CDBWriter) error {
		for _, e := range entries {
			if e.Name == "" {
				// The empty key holds the table's flags in our CDB
				// files; Postfix stores it but warns about it on
				// every listing.
				t.warn(fmt.Sprintf("%s, line %d: empty name is not allowed", srcName, e.Line))
				continue
			}
			where := func() string { return fmt.Sprintf("%s, line %d", srcName, e.Line) }
			if err := t.put(w, e.Name, e.Value, where); err != nil {
				return err
			}
		}
		// Sendmail compatibility: "@: @" says the database is complete.
		return w.Replace("@", "@")
	})
}
