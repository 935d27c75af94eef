package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

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

// postmap is how postmap(1) does the shared table operations.
var postmap = manners{
	sep: "\t",
	queryKey: func(line string) (string, bool) {
		key := strings.TrimRight(line, "\r")
		return key, key != ""
	},
	deleteKey: func(line string) (string, bool) {
		key := strings.TrimSpace(line)
		return key, key != ""
	},
}

// runMap is mailhorn map, the postmap(1) equivalent. Exit status: 0 done
// or found, 1 not found (-q, -d), 2 on errors.
func runMap(ctx context.Context, e *env, args []string) int {
	return tableMain(ctx, e, args, "mailhorn map", mapUsage, postmap, buildMap)
}

// buildMap compiles the source file of spec into its CDB file, or with -i
// adds the entries read from stdin to the existing table.
func buildMap(t *tableTool, spec string) error {
	typ, name, dbPath, err := indexed(spec, "are built")
	if err != nil {
		return err
	}
	var src io.Reader
	srcName := name
	if t.o.incr {
		src, srcName = t.e.stdin, "-"
	} else {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("open %s: %w", name, err)
		}
		defer f.Close()
		src = f
	}
	where := func() string { return dbPath }
	return t.writeCDB(typ, dbPath, name, func(w *maps.CDBWriter) error {
		return maps.ReadSource(src, srcName, t.warn, func(e maps.SourceEntry) error {
			key := e.Key
			if !t.o.noFold {
				key = maps.FoldKey(key)
			}
			return t.put(w, key, e.Value, where)
		})
	})
}
