package maps

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// multiTable is unionmap:{...} or pipemap:{...}.
type multiTable struct {
	tables []Table
	pipe   bool
}

func openMulti(typ, name string, o Options, pipe bool) (Table, error) {
	bad := fmt.Errorf("bad syntax: \"%s:%s\"; need \"%s:{type:name...}\"", typ, name, typ)
	body, ok := braceBody(name)
	if !ok {
		return nil, bad
	}
	specs, err := splitList(body)
	if err != nil || len(specs) == 0 {
		return nil, bad
	}
	t := &multiTable{pipe: pipe}
	for _, s := range specs {
		sub, err := OpenWith(s, o)
		if err != nil {
			t.Close()
			return nil, err
		}
		t.tables = append(t.tables, sub)
	}
	return t, nil
}

func openUnion(name string, o Options) (Table, error) { return openMulti("unionmap", name, o, false) }
func openPipe(name string, o Options) (Table, error)  { return openMulti("pipemap", name, o, true) }

// Lookup: unionmap joins every table's value with commas; pipemap feeds
// each value as the key of the next table.
func (t *multiTable) Lookup(ctx context.Context, key string) (string, bool, error) {
	var vals []string
	for _, sub := range t.tables {
		v, ok, err := sub.Lookup(ctx, key)
		if err != nil {
			return "", false, err
		}
		if t.pipe {
			if !ok {
				return "", false, nil
			}
			key = v
			continue
		}
		if ok {
			vals = append(vals, v)
		}
	}
	if t.pipe {
		return key, true, nil
	}
	if len(vals) == 0 {
		return "", false, nil
	}
	return strings.Join(vals, ","), true, nil
}

func (t *multiTable) Pattern() bool {
	for _, sub := range t.tables {
		if IsPattern(sub) {
			return true
		}
	}
	return false
}

func (t *multiTable) Close() error {
	var errs []error
	for _, sub := range t.tables {
		errs = append(errs, sub.Close())
	}
	return errors.Join(errs...)
}
