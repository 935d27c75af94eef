package maps

import (
	"context"
	"fmt"
	"sync"
)

// matcher is a parsed source file that answers lookups from memory.
type matcher interface {
	match(key string) (string, bool)
}

// fileTable holds a table parsed from a text file (texthash, regexp, pcre,
// cidr) and parses the file again when it changes, so an edit is used
// without a restart. A file that cannot be read or parsed any more makes
// lookups fail rather than answer from stale rules.
type fileTable struct {
	path    string
	parse   func(path string) (matcher, error)
	pattern bool

	mu  sync.RWMutex
	m   matcher
	id  fileID
	err error
}

func newFileTable(path string, pattern bool, parse func(string) (matcher, error)) (*fileTable, error) {
	t := &fileTable{path: path, parse: parse, pattern: pattern}
	id, _, err := statID(path)
	if err != nil {
		return nil, err
	}
	m, err := parse(path)
	if err != nil {
		return nil, err
	}
	t.m, t.id = m, id
	return t, nil
}

func (t *fileTable) current() (matcher, error) {
	id, _, err := statID(t.path)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.path, err)
	}
	t.mu.RLock()
	m, same, lastErr := t.m, id == t.id, t.err
	t.mu.RUnlock()
	if same {
		return m, lastErr
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if id == t.id {
		return t.m, t.err
	}
	m, err = t.parse(t.path)
	t.id = id
	if err != nil {
		t.m, t.err = nil, fmt.Errorf("table %s: %w", t.path, err)
		return nil, t.err
	}
	t.m, t.err = m, nil
	return m, nil
}

func (t *fileTable) Lookup(ctx context.Context, key string) (string, bool, error) {
	m, err := t.current()
	if err != nil {
		return "", false, err
	}
	v, ok := m.match(key)
	return v, ok, nil
}

func (t *fileTable) Pattern() bool { return t.pattern }

func (t *fileTable) Close() error { return nil }

// ForEach lists a texthash table's entries.
func (t *fileTable) ForEach(fn func(key, value string) error) error {
	m, err := t.current()
	if err != nil {
		return err
	}
	d, ok := m.(Dumper)
	if !ok {
		return fmt.Errorf("table %s: %w: cannot list a pattern table", t.path, ErrUnsupported)
	}
	return d.ForEach(fn)
}
