package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"mailhorn/internal/aliases"
	"mailhorn/internal/config"
	"mailhorn/internal/maps"
)

const aliasUsage = "usage: mailhorn alias [-Nfinoprsvw] [-c config_dir] [-d key] [-q key] [type:]file..."

// runAlias is mailhorn alias, the postalias(1) equivalent: build alias
// tables from aliases(5) files, query (-q), list (-s) or delete (-d)
// entries. Exit status: 0 done or found, 1 not found (-q, -d), 2 on errors.
// The options are postmap's, so they are parsed by parseMapArgs.
func runAlias(ctx context.Context, e *env, args []string) int {
	o, files, err := parseMapArgs(args)
	if err != nil {
		fmt.Fprintf(e.stderr, "mailhorn alias: fatal: %v\n%s\n", err, aliasUsage)
		return 2
	}
	if len(files) == 0 {
		fmt.Fprintf(e.stderr, "mailhorn alias: fatal: no table given\n%s\n", aliasUsage)
		return 2
	}
	a, err := newAliasCmd(e, "mailhorn alias", o)
	if err != nil {
		fmt.Fprintf(e.stderr, "mailhorn alias: fatal: %v\n", err)
		return 2
	}
	specs := make([]string, len(files))
	for i, f := range files {
		specs[i] = a.spec(f)
	}
	code, err := a.run(ctx, specs)
	if err != nil {
		fmt.Fprintf(e.stderr, "mailhorn alias: fatal: %v\n", err)
		return 2
	}
	return code
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
	a, err := newAliasCmd(e, "newaliases", o)
	if err != nil {
		fmt.Fprintf(e.stderr, "newaliases: fatal: %v\n", err)
		return 2
	}
	for _, f := range a.cfg.List("alias_database") {
		if err := a.build(a.spec(f)); err != nil {
			fmt.Fprintf(e.stderr, "newaliases: fatal: %v\n", err)
			return 2
		}
	}
	return 0
}

type aliasCmd struct {
	e    *env
	name string // program name in messages
	o    mapOpts
	cfg  *config.Config
}

func newAliasCmd(e *env, name string, o mapOpts) (*aliasCmd, error) {
	a := &aliasCmd{e: e, name: name, o: o}
	cfg, err := config.Load(config.Dir(o.confDir, e.getenv), a.warn)
	if err != nil {
		return nil, err
	}
	a.cfg = cfg
	return a, nil
}

func (a *aliasCmd) warn(msg string) { fmt.Fprintf(a.e.stderr, "%s: warning: %s\n", a.name, msg) }

// spec adds default_database_type to a bare file name.
func (a *aliasCmd) spec(f string) string {
	if typ, _, err := maps.SplitSpec(f); err == nil && !strings.ContainsAny(typ, "/.") {
		return f
	}
	defType := a.cfg.Get("default_database_type")
	if defType == "" {
		defType = "hash"
	}
	return defType + ":" + f
}

func (a *aliasCmd) run(ctx context.Context, specs []string) (int, error) {
	switch {
	case a.o.hasQuery && a.o.query == "-":
		return a.queryStdin(ctx, specs)
	case a.o.hasQuery:
		return a.queryOne(ctx, specs, a.o.query)
	case a.o.dump:
		return a.dump(specs[0])
	case a.o.hasDel:
		return a.deleteKeys(specs)
	}
	for _, s := range specs {
		if err := a.build(s); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

func (a *aliasCmd) open(spec string) (maps.Table, error) {
	return maps.OpenWith(spec, maps.Options{Warn: a.warn, NoFold: a.o.noFold})
}

// lazyTables opens tables only when a query reaches them, as postalias
// does: a missing second table does not matter when the first answers.
type lazyTables struct {
	a      *aliasCmd
	specs  []string
	tables []maps.Table
}

func (l *lazyTables) lookup(ctx context.Context, key string) (string, bool, error) {
	for i, s := range l.specs {
		if i == len(l.tables) {
			t, err := l.a.open(s)
			if err != nil {
				return "", false, err
			}
			l.tables = append(l.tables, t)
		}
		v, ok, err := l.tables[i].Lookup(ctx, key)
		if err != nil || ok {
			return v, ok, err
		}
	}
	return "", false, nil
}

func (l *lazyTables) close() {
	for _, t := range l.tables {
		t.Close()
	}
}

func (a *aliasCmd) queryOne(ctx context.Context, specs []string, key string) (int, error) {
	l := &lazyTables{a: a, specs: specs}
	defer l.close()
	v, ok, err := l.lookup(ctx, key)
	if err != nil || !ok {
		return 1, err
	}
	fmt.Fprintln(a.e.stdout, v)
	return 0, nil
}

// queryStdin answers each key read from stdin with "key:<TAB>value" when
// found, as postalias -q - does; exit 0 when at least one was found.
func (a *aliasCmd) queryStdin(ctx context.Context, specs []string) (int, error) {
	l := &lazyTables{a: a, specs: specs}
	defer l.close()
	out := bufio.NewWriter(a.e.stdout)
	defer out.Flush()
	code := 1
	sc := bufio.NewScanner(a.e.stdin)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		key := sc.Text()
		v, ok, err := l.lookup(ctx, key)
		if err != nil {
			return 0, err
		}
		if ok {
			code = 0
			fmt.Fprintf(out, "%s:\t%s\n", key, v)
		}
	}
	return code, sc.Err()
}

// dump lists the first table, "key:<TAB>value" per entry, in table order
// (postalias -s also lists only the first).
func (a *aliasCmd) dump(spec string) (int, error) {
	t, err := a.open(spec)
	if err != nil {
		return 0, err
	}
	defer t.Close()
	d, ok := t.(maps.Dumper)
	if !ok {
		return 0, fmt.Errorf("table %s: sequential access is not supported", spec)
	}
	out := bufio.NewWriter(a.e.stdout)
	defer out.Flush()
	return 0, d.ForEach(func(k, v string) error {
		_, err := fmt.Fprintf(out, "%s:\t%s\n", k, v)
		return err
	})
}

// deleteKeys removes -d key (or every key on stdin for -d -) from each
// table: the CDB file is rebuilt without it. Exit 0 when something was
// removed.
func (a *aliasCmd) deleteKeys(specs []string) (int, error) {
	keys := []string{a.o.del}
	if a.o.del == "-" {
		keys = nil
		sc := bufio.NewScanner(a.e.stdin)
		for sc.Scan() {
			keys = append(keys, sc.Text())
		}
		if err := sc.Err(); err != nil {
			return 0, err
		}
	}
	if !a.o.noFold {
		for i, k := range keys {
			keys[i] = maps.FoldKey(k)
		}
	}
	code := 1
	for _, spec := range specs {
		typ, name, err := maps.SplitSpec(spec)
		if err != nil {
			return 0, err
		}
		if !maps.IsIndexed(typ) {
			return 0, fmt.Errorf("%s: %w %q: only hash, btree and cdb tables can be changed", spec, maps.ErrUnsupported, typ)
		}
		dbPath := maps.IndexedPath(name)
		fi, err := os.Stat(dbPath)
		if err != nil {
			return 0, fmt.Errorf("open database %s: %w", dbPath, err)
		}
		w, err := maps.CreateCDB(dbPath)
		if err != nil {
			return 0, err
		}
		w.SetOwner(sourceOwner(fi))
		deleted, err := deleteFrom(w, typ, dbPath, keys, true)
		if err == nil && deleted {
			code = 0
			err = w.Commit()
		} else {
			w.Abort()
		}
		if err != nil {
			return 0, err
		}
	}
	return code, nil
}

// build compiles the aliases file of spec into its CDB file, or with -i
// adds the entries read from stdin to the existing table. Lines that are not
// name: value are reported with file and line and skipped, as postalias
// does; duplicates keep the first value (-r: the last; -w: quietly).
func (a *aliasCmd) build(spec string) error {
	typ, name, err := maps.SplitSpec(spec)
	if err != nil {
		return err
	}
	if !maps.IsIndexed(typ) {
		return fmt.Errorf("%s: %w %q: only hash, btree and cdb tables are built", spec, maps.ErrUnsupported, typ)
	}
	dbPath := maps.IndexedPath(name)
	var src io.Reader = a.e.stdin
	srcName := "stdin"
	if !a.o.incr {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		src, srcName = f, name
	}
	entries, problems, err := aliases.Parse(src, srcName, aliases.ParseOptions{NoFold: a.o.noFold})
	if err != nil {
		return err
	}
	mode := aliases.DupWarn
	switch {
	case a.o.replace:
		mode = aliases.DupReplace
	case a.o.quietDup:
		mode = aliases.DupIgnore
	}
	entries, dups := aliases.Dedup(entries, srcName, mode)
	problems = append(problems, dups...)
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
	for _, p := range problems {
		a.warn(p.Error())
	}

	w, err := maps.CreateCDB(dbPath)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(name); err == nil {
		w.SetOwner(sourceOwner(fi))
	}
	if err := a.fill(w, typ, dbPath, srcName, entries); err != nil {
		w.Abort()
		return err
	}
	return w.Commit()
}

func (a *aliasCmd) fill(w *maps.CDBWriter, typ, dbPath, srcName string, entries []aliases.Entry) error {
	if a.o.noFold {
		if err := w.SetNoFold(); err != nil {
			return err
		}
	}
	if a.o.incr {
		if err := copyExisting(w, typ, dbPath); err != nil {
			return err
		}
	}
	for _, e := range entries {
		if e.Name == "" {
			// The empty key holds the table's flags in our CDB files;
			// Postfix stores it but warns about it on every listing.
			a.warn(fmt.Sprintf("%s, line %d: empty name is not allowed", srcName, e.Line))
			continue
		}
		var err error
		if a.o.replace {
			err = w.Replace(e.Name, e.Value)
		} else {
			err = w.Add(e.Name, e.Value)
		}
		if errors.Is(err, maps.ErrDuplicate) {
			if !a.o.quietDup {
				a.warn(fmt.Sprintf("%s, line %d: duplicate entry: %q", srcName, e.Line, e.Name))
			}
			continue
		}
		if err != nil {
			return err
		}
	}
	// Sendmail compatibility: "@: @" says the database is complete.
	return w.Replace("@", "@")
}
