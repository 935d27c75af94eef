package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"mailhorn/internal/config"
	"mailhorn/internal/maps"
)

// This file holds what mailhorn map (postmap) and mailhorn alias
// (postalias) share: querying, listing and changing indexed tables. Where
// the two Postfix commands behave differently, tableTool's fields say how.

// manners are where postmap and postalias differ in the shared
// operations.
type manners struct {
	// sep goes between key and value in -q - and -s output: postmap
	// writes "key<TAB>value", postalias "key:<TAB>value".
	sep string
	// lazy opens a table only when a query reaches it, as postalias
	// does: a missing second table does not matter when the first
	// answers. postmap opens every table first.
	lazy bool
	// dumpFirst lists only the first table with -s (postalias).
	dumpFirst bool
	// queryKey and deleteKey turn a line of stdin into a key for -q - and
	// -d -; ok false skips the line.
	queryKey, deleteKey func(line string) (key string, ok bool)
}

// tableTool runs the table operations of one command.
type tableTool struct {
	e    *env
	o    mapOpts
	m    manners
	name string // program name in messages: "mailhorn map"
	cfg  *config.Config
}

// tableMain is mailhorn map and mailhorn alias up to their differences:
// the options (postmap's for both), the configuration, the operation and
// the exit status: 0 done or found, 1 not found (-q, -d), 2 on errors.
// build compiles one table from its source.
func tableMain(ctx context.Context, e *env, args []string, name, usage string, m manners, build func(t *tableTool, spec string) error) int {
	o, files, err := parseMapArgs(args)
	if err != nil {
		fmt.Fprintf(e.stderr, "%s: fatal: %v\n%s\n", name, err, usage)
		return 2
	}
	if len(files) == 0 {
		fmt.Fprintf(e.stderr, "%s: fatal: no table given\n%s\n", name, usage)
		return 2
	}
	t, err := newTableTool(e, name, o, m)
	if err != nil {
		fmt.Fprintf(e.stderr, "%s: fatal: %v\n", name, err)
		return 2
	}
	specs := make([]string, len(files))
	for i, f := range files {
		specs[i] = t.spec(f)
	}
	code, err := t.run(ctx, specs, build)
	if err != nil {
		fmt.Fprintf(e.stderr, "%s: fatal: %v\n", name, err)
		return 2
	}
	return code
}

// newTableTool loads the configuration for a table command.
func newTableTool(e *env, name string, o mapOpts, m manners) (*tableTool, error) {
	t := &tableTool{e: e, o: o, m: m, name: name}
	cfg, err := config.Load(config.Dir(o.confDir, e.getenv), t.warn)
	if err != nil {
		return nil, err
	}
	t.cfg = cfg
	return t, nil
}

func (t *tableTool) warn(msg string) { fmt.Fprintf(t.e.stderr, "%s: warning: %s\n", t.name, msg) }

// spec adds default_database_type to a bare file name.
func (t *tableTool) spec(f string) string {
	if typ, _, err := maps.SplitSpec(f); err == nil && !strings.ContainsAny(typ, "/.") {
		return f
	}
	defType := t.cfg.Get("default_database_type")
	if defType == "" {
		defType = "hash"
	}
	return defType + ":" + f
}

// run does what the options ask of the tables.
func (t *tableTool) run(ctx context.Context, specs []string, build func(t *tableTool, spec string) error) (int, error) {
	switch {
	case t.o.hasQuery && t.o.query == "-":
		return t.queryStdin(ctx, specs)
	case t.o.hasQuery:
		return t.queryOne(ctx, specs, t.o.query)
	case t.o.dump && t.m.dumpFirst:
		return t.dump(specs[:1])
	case t.o.dump:
		return t.dump(specs)
	case t.o.hasDel:
		return t.deleteKeys(specs)
	}
	for _, s := range specs {
		if err := build(t, s); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

func (t *tableTool) open(spec string) (maps.Table, error) {
	return maps.OpenWith(spec, maps.Options{Warn: t.warn, NoFold: t.o.noFold})
}

// tableSet is the tables of a query, searched in order.
type tableSet struct {
	t      *tableTool
	specs  []string
	tables []maps.Table // the first len(tables) of specs, opened
}

// openTables returns the tables of specs, opened now unless the command
// opens them lazily.
func (t *tableTool) openTables(specs []string) (*tableSet, error) {
	s := &tableSet{t: t, specs: specs}
	if t.m.lazy {
		return s, nil
	}
	if err := s.openUpTo(len(specs)); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *tableSet) openUpTo(n int) error {
	for len(s.tables) < n {
		tb, err := s.t.open(s.specs[len(s.tables)])
		if err != nil {
			return err
		}
		s.tables = append(s.tables, tb)
	}
	return nil
}

func (s *tableSet) lookup(ctx context.Context, key string) (string, bool, error) {
	for i := range s.specs {
		if err := s.openUpTo(i + 1); err != nil {
			return "", false, err
		}
		v, ok, err := s.tables[i].Lookup(ctx, key)
		if err != nil || ok {
			return v, ok, err
		}
	}
	return "", false, nil
}

func (s *tableSet) close() {
	for _, tb := range s.tables {
		tb.Close()
	}
}

func (t *tableTool) queryOne(ctx context.Context, specs []string, key string) (int, error) {
	s, err := t.openTables(specs)
	if err != nil {
		return 0, err
	}
	defer s.close()
	v, ok, err := s.lookup(ctx, key)
	if err != nil || !ok {
		return 1, err
	}
	fmt.Fprintln(t.e.stdout, v)
	return 0, nil
}

// queryStdin answers each key read from stdin with "key<sep>value" when
// found; exit 0 when at least one was found.
func (t *tableTool) queryStdin(ctx context.Context, specs []string) (int, error) {
	s, err := t.openTables(specs)
	if err != nil {
		return 0, err
	}
	defer s.close()
	out := bufio.NewWriter(t.e.stdout)
	defer out.Flush()
	code := 1
	sc := bufio.NewScanner(t.e.stdin)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		key, use := t.m.queryKey(sc.Text())
		if !use {
			continue
		}
		v, ok, err := s.lookup(ctx, key)
		if err != nil {
			return 0, err
		}
		if ok {
			code = 0
			fmt.Fprintf(out, "%s%s%s\n", key, t.m.sep, v)
		}
	}
	return code, sc.Err()
}

// dump lists every entry of the tables, "key<sep>value", in table order.
func (t *tableTool) dump(specs []string) (int, error) {
	s := &tableSet{t: t, specs: specs}
	defer s.close()
	if err := s.openUpTo(len(specs)); err != nil {
		return 0, err
	}
	out := bufio.NewWriter(t.e.stdout)
	defer out.Flush()
	for i, tb := range s.tables {
		d, ok := tb.(maps.Dumper)
		if !ok {
			return 0, fmt.Errorf("table %s: sequential access is not supported", specs[i])
		}
		if err := d.ForEach(func(k, v string) error {
			_, err := fmt.Fprintf(out, "%s%s%s\n", k, t.m.sep, v)
			return err
		}); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// indexed splits spec and returns the type, source file name and CDB file
// of an indexed table; doing says what was refused otherwise ("are built").
func indexed(spec, doing string) (typ, name, dbPath string, err error) {
	typ, name, err = maps.SplitSpec(spec)
	if err != nil {
		return "", "", "", err
	}
	if !maps.IsIndexed(typ) {
		return "", "", "", fmt.Errorf("%s: %w %q: only hash, btree and cdb tables %s", spec, maps.ErrUnsupported, typ, doing)
	}
	return typ, name, maps.IndexedPath(name), nil
}

// sourceOwner returns the mode and owner the built file should have: those
// of the source file, as postmap does.
func sourceOwner(fi os.FileInfo) (os.FileMode, int, int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fi.Mode().Perm(), int(st.Uid), int(st.Gid)
	}
	return fi.Mode().Perm(), -1, -1
}

// writeCDB builds the CDB file of a table: the table's flags, with -i the
// entries already there, then those fill adds. The file takes the mode and
// owner of source and replaces the old one only when all went well.
func (t *tableTool) writeCDB(typ, dbPath, source string, fill func(w *maps.CDBWriter) error) error {
	w, err := maps.CreateCDB(dbPath)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(source); err == nil {
		w.SetOwner(sourceOwner(fi))
	}
	if err := t.fillCDB(w, typ, dbPath, fill); err != nil {
		w.Abort()
		return err
	}
	return w.Commit()
}

func (t *tableTool) fillCDB(w *maps.CDBWriter, typ, dbPath string, fill func(w *maps.CDBWriter) error) error {
	if t.o.noFold {
		if err := w.SetNoFold(); err != nil {
			return err
		}
	}
	if t.o.incr {
		if err := copyExisting(w, typ, dbPath); err != nil {
			return err
		}
	}
	return fill(w)
}

// put stores one entry: the first value of a key wins, or with -r the
// last. A duplicate is reported as "where(): duplicate entry", except
// with -w.
func (t *tableTool) put(w *maps.CDBWriter, key, value string, where func() string) error {
	var err error
	if t.o.replace {
		err = w.Replace(key, value)
	} else {
		err = w.Add(key, value)
	}
	if errors.Is(err, maps.ErrDuplicate) {
		if !t.o.quietDup {
			t.warn(fmt.Sprintf("%s: duplicate entry: %q", where(), key))
		}
		return nil
	}
	return err
}

// copyExisting copies the entries of an existing CDB file into w: a
// constant database is changed by building a new one.
func copyExisting(w *maps.CDBWriter, typ, dbPath string) error {
	if _, err := os.Stat(dbPath); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	t, err := maps.OpenWith(typ+":"+strings.TrimSuffix(dbPath, ".cdb"), maps.Options{Warn: func(string) {}})
	if err != nil {
		return err
	}
	defer t.Close()
	return t.(maps.Dumper).ForEach(func(k, v string) error { return w.Add(k, v) })
}

// deleteKeys removes -d key (or every key on stdin for -d -) from each
// table: the CDB file is rebuilt without it. Exit 0 when something was
// removed.
func (t *tableTool) deleteKeys(specs []string) (int, error) {
	keys := []string{t.o.del}
	if t.o.del == "-" {
		keys = nil
		sc := bufio.NewScanner(t.e.stdin)
		for sc.Scan() {
			if k, ok := t.m.deleteKey(sc.Text()); ok {
				keys = append(keys, k)
			}
		}
		if err := sc.Err(); err != nil {
			return 0, err
		}
	}
	if !t.o.noFold {
		for i, k := range keys {
			keys[i] = maps.FoldKey(k)
		}
	}
	code := 1
	for _, spec := range specs {
		typ, _, dbPath, err := indexed(spec, "can be changed")
		if err != nil {
			return 0, err
		}
		fi, err := os.Stat(dbPath)
		if err != nil {
			return 0, fmt.Errorf("open database %s: %w", dbPath, err)
		}
		w, err := maps.CreateCDB(dbPath)
		if err != nil {
			return 0, err
		}
		w.SetOwner(sourceOwner(fi))
		deleted, err := deleteFrom(w, typ, dbPath, keys)
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

// deleteFrom copies the table at dbPath into w without keys (folded
// already); it reports whether one of them was there.
func deleteFrom(w *maps.CDBWriter, typ, dbPath string, keys []string) (bool, error) {
	if err := copyExisting(w, typ, dbPath); err != nil {
		return false, err
	}
	deleted := false
	for _, k := range keys {
		has, err := w.Has(k)
		if err != nil {
			return false, err
		}
		if has && k != "" {
			deleted = true
			if err := w.Delete(k); err != nil {
				return false, err
			}
		}
	}
	return deleted, nil
}
