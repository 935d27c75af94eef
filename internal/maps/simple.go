package maps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
)

// memTable is an in-memory key/value table (texthash, inline), with keys
// folded at load time unless the table is case-sensitive.
type memTable struct {
	m      map[string]string
	order  []string
	noFold bool
}

func newMemTable(noFold bool) *memTable { return &memTable{m: map[string]string{}, noFold: noFold} }

// put adds key unless present; it reports whether key was new.
func (t *memTable) put(key, value string) bool {
	if !t.noFold {
		key = fold(key)
	}
	if _, dup := t.m[key]; dup {
		return false
	}
	t.m[key] = value
	t.order = append(t.order, key)
	return true
}

func (t *memTable) match(key string) (string, bool) {
	if !t.noFold {
		key = fold(key)
	}
	v, ok := t.m[key]
	return v, ok
}

func (t *memTable) Lookup(ctx context.Context, key string) (string, bool, error) {
	v, ok := t.match(key)
	return v, ok, nil
}

func (t *memTable) ForEach(fn func(key, value string) error) error {
	for _, k := range t.order {
		if err := fn(k, t.m[k]); err != nil {
			return err
		}
	}
	return nil
}

func (t *memTable) Close() error { return nil }

// openTexthash reads a postmap source file at open (and again when it
// changes): a hash: table without the build step.
func openTexthash(name string, o Options) (Table, error) {
	return newFileTable(name, false, func(path string) (matcher, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		t := newMemTable(o.NoFold)
		err = ReadSource(f, path, o.warn, func(e SourceEntry) error {
			if !t.put(e.Key, e.Value) {
				o.warn(fmt.Sprintf("%s, line %d: duplicate entry: %q", path, e.Lineno, e.Key))
			}
			return nil
		})
		return t, err
	})
}

// openInline parses inline:{ key=value, { key = value with spaces } }.
func openInline(name string, o Options) (Table, error) {
	bad := fmt.Errorf("bad syntax: \"inline:%s\"; need \"inline:{name=value...}\"", name)
	body, ok := braceBody(name)
	if !ok {
		return nil, bad
	}
	elems, err := splitList(body)
	if err != nil || len(elems) == 0 {
		return nil, bad
	}
	t := newMemTable(o.NoFold)
	for _, e := range elems {
		if b, ok := braceBody(e); ok {
			e = b
		} else if strings.HasPrefix(e, "{") {
			return nil, bad
		}
		k, v, ok := strings.Cut(e, "=")
		k, v = strings.Trim(k, spaceChars), strings.Trim(v, spaceChars)
		if !ok {
			return nil, fmt.Errorf("missing '=' after attribute name: \"inline:%s\"; need \"inline:{name=value...}\"", name)
		}
		if k == "" {
			return nil, fmt.Errorf("missing attribute name: \"inline:%s\"; need \"inline:{name=value...}\"", name)
		}
		t.put(k, v)
	}
	return t, nil
}

// staticTable answers every key with the same value.
type staticTable struct{ value string }

func (t staticTable) Lookup(ctx context.Context, key string) (string, bool, error) {
	return t.value, true, nil
}
func (t staticTable) Close() error { return nil }

// openStatic accepts static:value and static:{value with spaces}.
func openStatic(name string, o Options) (Table, error) {
	if strings.HasPrefix(name, "{") {
		b, ok := braceBody(name)
		if !ok {
			return nil, fmt.Errorf("bad syntax: \"static:%s\"; need \"static:{value}\"", name)
		}
		name = b
	}
	return staticTable{value: name}, nil
}

// errFail is the answer of every fail: table lookup.
var errFail = errors.New("table is configured to fail")

// failTable fails every lookup (Postfix's fail:name, for testing).
type failTable struct{ name string }

func (t failTable) Lookup(ctx context.Context, key string) (string, bool, error) {
	return "", false, fmt.Errorf("fail:%s: %w", t.name, errFail)
}
func (t failTable) Close() error { return nil }

func openFail(name string, o Options) (Table, error) { return failTable{name: name}, nil }
