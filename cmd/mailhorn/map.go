package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"mailhorn/internal/config"
	"mailhorn/internal/maps"
)

// mapOpts are the options of mailhorn map, as postmap(1) has them.
type mapOpts struct {
	confDir  string
	query    string
	hasQuery bool
	del      string
	hasDel   bool
	dump     bool
	incr     bool
	noFold   bool
	replace  bool
	quietDup bool
	verbose  bool
}

const mapUsage = "usage: mailhorn map [-Nfinorsvw] [-c config_dir] [-q key|-d key] [type:]file..."

// parseMapArgs parses postmap-style options: single letters that may be
// grouped (-fq key), -c, -d and -q taking a value.
func parseMapArgs(args []string) (mapOpts, []string, error) {
	var o mapOpts
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			switch c {
			case 'c', 'd', 'q':
				v := a[j+1:]
				if v == "" {
					if i+1 >= len(args) {
						return o, nil, fmt.Errorf("option -%c requires an argument", c)
					}
					i++
					v = args[i]
				}
				switch c {
				case 'c':
					o.confDir = v
				case 'd':
					o.del, o.hasDel = v, true
				case 'q':
					o.query, o.hasQuery = v, true
				}
				j = len(a)
			case 'f':
				o.noFold = true
			case 'i':
				o.incr = true
			case 'r':
				o.replace = true
			case 's':
				o.dump = true
			case 'w':
				o.quietDup = true
			case 'v':
				o.verbose = true
			case 'N', 'n', 'o', 'p':
				// NUL termination and privilege handling have no
				// meaning for CDB files written by this process.
			default:
				return o, nil, fmt.Errorf("unsupported option -%c", c)
			}
		}
	}
	n := 0
	for _, b := range []bool{o.hasQuery, o.hasDel, o.dump, o.incr} {
		if b {
			n++
		}
	}
	if n > 1 {
		return o, nil, errors.New("specify only one of -d, -i, -q and -s")
	}
	return o, args[i:], nil
}

// runMap is mailhorn map, the postmap(1) equivalent. Exit status: 0 done
// or found, 1 not found (-q, -d), 2 on errors.
func runMap(ctx context.Context, e *env, args []string) int {
	o, files, err := parseMapArgs(args)
	if err != nil {
		fmt.Fprintf(e.stderr, "mailhorn map: fatal: %v\n%s\n", err, mapUsage)
		return 2
	}
	if len(files) == 0 {
		fmt.Fprintf(e.stderr, "mailhorn map: fatal: no table given\n%s\n", mapUsage)
		return 2
	}
	warn := func(msg string) { fmt.Fprintf(e.stderr, "mailhorn map: warning: %s\n", msg) }
	cfg, err := config.Load(config.Dir(o.confDir, e.getenv), warn)
	if err != nil {
		fmt.Fprintf(e.stderr, "mailhorn map: fatal: %v\n", err)
		return 2
	}
	defType := cfg.Get("default_database_type")
	if defType == "" {
		defType = "hash"
	}
	specs := make([]string, len(files))
	for i, f := range files {
		specs[i] = f
		if typ, _, err := maps.SplitSpec(f); err != nil || strings.ContainsAny(typ, "/.") {
			specs[i] = defType + ":" + f
		}
	}
	m := &mapCmd{e: e, o: o, warn: warn}
	code, err := m.run(ctx, specs)
	if err != nil {
		fmt.Fprintf(e.stderr, "mailhorn map: fatal: %v\n", err)
		return 2
	}
	return code
}

type mapCmd struct {
	e    *env
	o    mapOpts
	warn func(string)
}

func (m *mapCmd) run(ctx context.Context, specs []string) (int, error) {
	switch {
	case m.o.hasQuery && m.o.query == "-":
		return m.queryStdin(ctx, specs)
	case m.o.hasQuery:
		return m.queryOne(ctx, specs, m.o.query)
	case m.o.dump:
		return m.dumpAll(specs)
	case m.o.hasDel:
		return m.deleteKeys(specs)
	}
	for _, s := range specs {
		if err := m.build(s); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

func (m *mapCmd) openAll(specs []string) ([]maps.Table, func(), error) {
	var ts []maps.Table
	closeAll := func() {
		for _, t := range ts {
			t.Close()
		}
	}
	for _, s := range specs {
		t, err := maps.OpenWith(s, maps.Options{Warn: m.warn, NoFold: m.o.noFold})
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		ts = append(ts, t)
	}
	return ts, closeAll, nil
}

func lookupFirst(ctx context.Context, ts []maps.Table, key string) (string, bool, error) {
	for _, t := range ts {
		v, ok, err := t.Lookup(ctx, key)
		if err != nil || ok {
			return v, ok, err
		}
	}
	return "", false, nil
}

func (m *mapCmd) queryOne(ctx context.Context, specs []string, key string) (int, error) {
	ts, closeAll, err := m.openAll(specs)
	if err != nil {
		return 0, err
	}
	defer closeAll()
	v, ok, err := lookupFirst(ctx, ts, key)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 1, nil
	}
	fmt.Fprintln(m.e.stdout, v)
	return 0, nil
}

// queryStdin answers every key read from stdin with "key<TAB>value" for
// those found, as postmap -q - does.
func (m *mapCmd) queryStdin(ctx context.Context, specs []string) (int, error) {
	ts, closeAll, err := m.openAll(specs)
	if err != nil {
		return 0, err
	}
	defer closeAll()
	out := bufio.NewWriter(m.e.stdout)
	defer out.Flush()
	code := 1
	sc := bufio.NewScanner(m.e.stdin)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		key := strings.TrimRight(sc.Text(), "\r")
		if key == "" {
			continue
		}
		v, ok, err := lookupFirst(ctx, ts, key)
		if err != nil {
			return 0, err
		}
		if ok {
			code = 0
			fmt.Fprintf(out, "%s\t%s\n", key, v)
		}
	}
	return code, sc.Err()
}

func (m *mapCmd) dumpAll(specs []string) (int, error) {
	ts, closeAll, err := m.openAll(specs)
	if err != nil {
		return 0, err
	}
	defer closeAll()
	out := bufio.NewWriter(m.e.stdout)
	defer out.Flush()
	for i, t := range ts {
		d, ok := t.(maps.Dumper)
		if !ok {
			return 0, fmt.Errorf("table %s: sequential access is not supported", specs[i])
		}
		if err := d.ForEach(func(k, v string) error {
			_, err := fmt.Fprintf(out, "%s\t%s\n", k, v)
			return err
		}); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// sourceOwner returns the mode and owner the built file should have: those
// of the source file, as postmap does.
func sourceOwner(fi os.FileInfo) (os.FileMode, int, int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fi.Mode().Perm(), int(st.Uid), int(st.Gid)
	}
	return fi.Mode().Perm(), -1, -1
}

// build compiles the source file of spec into its CDB file, or with -i
// adds the entries read from stdin to the existing table.
func (m *mapCmd) build(spec string) error {
	typ, name, err := maps.SplitSpec(spec)
	if err != nil {
		return err
	}
	if !maps.IsIndexed(typ) {
		return fmt.Errorf("%s: %w %q: only hash, btree and cdb tables are built", spec, maps.ErrUnsupported, typ)
	}
	dbPath := maps.IndexedPath(name)
	var src io.Reader
	srcName := name
	if m.o.incr {
		src, srcName = m.e.stdin, "-"
	} else {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("open %s: %w", name, err)
		}
		defer f.Close()
		src = f
	}
	w, err := maps.CreateCDB(dbPath)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(name); err == nil {
		w.SetOwner(sourceOwner(fi))
	}
	if err := m.fill(w, typ, dbPath, src, srcName); err != nil {
		w.Abort()
		return err
	}
	return w.Commit()
}

func (m *mapCmd) fill(w *maps.CDBWriter, typ, dbPath string, src io.Reader, srcName string) error {
	if m.o.noFold {
		if err := w.SetNoFold(); err != nil {
			return err
		}
	}
	if m.o.incr {
		if err := copyExisting(w, typ, dbPath); err != nil {
			return err
		}
	}
	return maps.ReadSource(src, srcName, m.warn, func(e maps.SourceEntry) error {
		key := e.Key
		if !m.o.noFold {
			key = maps.FoldKey(key)
		}
		var err error
		if m.o.replace {
			err = w.Replace(key, e.Value)
		} else {
			err = w.Add(key, e.Value)
		}
		if errors.Is(err, maps.ErrDuplicate) {
			if !m.o.quietDup {
				m.warn(fmt.Sprintf("%s: duplicate entry: %q", dbPath, key))
			}
			return nil
		}
		return err
	})
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
// table; exit 0 when something was removed.
func (m *mapCmd) deleteKeys(specs []string) (int, error) {
	keys := []string{m.o.del}
	if m.o.del == "-" {
		keys = nil
		sc := bufio.NewScanner(m.e.stdin)
		for sc.Scan() {
			if k := strings.TrimSpace(sc.Text()); k != "" {
				keys = append(keys, k)
			}
		}
		if err := sc.Err(); err != nil {
			return 0, err
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
		deleted, err := deleteFrom(w, typ, dbPath, keys, m.o.noFold)
		if err != nil {
			w.Abort()
			return 0, err
		}
		if !deleted {
			w.Abort()
			continue
		}
		code = 0
		if err := w.Commit(); err != nil {
			return 0, err
		}
	}
	return code, nil
}

func deleteFrom(w *maps.CDBWriter, typ, dbPath string, keys []string, noFold bool) (bool, error) {
	if err := copyExisting(w, typ, dbPath); err != nil {
		return false, err
	}
	deleted := false
	for _, k := range keys {
		if !noFold {
			k = maps.FoldKey(k)
		}
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
