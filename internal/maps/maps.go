package maps

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// Table is an open lookup table. Lookup returns found=false for a key that is
// not there; err is reserved for a table that could not answer (unreadable
// file, database down), which callers treat as a temporary failure: never
// as "not found".
type Table interface {
	Lookup(ctx context.Context, key string) (value string, found bool, err error)
	Close() error
}

// Pattern is implemented by tables whose keys are patterns matched against
// the whole input (regexp, pcre, cidr): Postfix queries them with the full
// address only, never with the partial keys user / @domain.
type Pattern interface {
	Pattern() bool
}

// IsPattern tells whether t is a pattern table.
func IsPattern(t Table) bool {
	p, ok := t.(Pattern)
	return ok && p.Pattern()
}

// ErrUnsupported is returned by Open for an unknown table type.
var ErrUnsupported = errors.New("unsupported lookup table type")

// Options tune how a table is opened.
type Options struct {
	// Warn receives warnings about a table's source: lines skipped as
	// malformed, a database older than its source. Nil: log/slog.
	Warn func(msg string)
	// NoFold keeps the case of query keys for the tables that fold them
	// (hash, cdb, btree, texthash, inline), as postmap -f does.
	NoFold bool
}

func (o Options) warn(msg string) {
	if o.Warn != nil {
		o.Warn(msg)
		return
	}
	slog.Warn(msg)
}

type opener func(name string, o Options) (Table, error)

// openerFor returns the constructor of a table type. It is a switch, not
// a map, because unionmap and pipemap open their members through OpenWith.
func openerFor(typ string) (opener, bool) {
	switch typ {
	case "hash", "btree", "cdb":
		return openIndexed, true
	case "texthash":
		return openTexthash, true
	case "inline":
		return openInline, true
	case "static":
		return openStatic, true
	case "fail":
		return openFail, true
	case "regexp":
		return openRegexp, true
	case "pcre":
		return openPCRE, true
	case "cidr":
		return openCIDR, true
	case "unionmap":
		return openUnion, true
	case "pipemap":
		return openPipe, true
	case "sqlite":
		return openSQLite, true
	case "pgsql":
		return openPgSQL, true
	case "unix":
		return openUnix, true
	}
	return nil, false
}

// Types lists the supported table types.
func Types() []string {
	return []string{"btree", "cdb", "cidr", "fail", "hash", "inline", "pcre", "pgsql", "pipemap", "regexp", "sqlite", "static", "texthash", "unionmap", "unix"}
}

// Open opens a table from its "type:name" spec, e.g. "hash:/etc/mailhorn/virtual",
// "inline:{a=b, c=d}", "regexp:/etc/mailhorn/header_checks".
func Open(spec string) (Table, error) {
	return OpenWith(spec, Options{})
}

// OpenWith is Open with options.
func OpenWith(spec string, o Options) (Table, error) {
	typ, name, err := SplitSpec(spec)
	if err != nil {
		return nil, err
	}
	open, ok := openerFor(typ)
	if !ok {
		return nil, fmt.Errorf("open %q: %w %q", spec, ErrUnsupported, typ)
	}
	t, err := open(name, o)
	if err != nil {
		return nil, fmt.Errorf("open %s:%s: %w", typ, name, err)
	}
	return t, nil
}

// List is an ordered list of tables searched in turn, as a parameter like
// alias_maps = hash:/etc/aliases, regexp:/etc/more names them.
type List struct {
	Tables []Table
}

// OpenList opens every spec, closing those already open if one fails.
func OpenList(specs []string) (*List, error) {
	l := &List{}
	for _, s := range specs {
		t, err := Open(s)
		if err != nil {
			l.Close()
			return nil, err
		}
		l.Tables = append(l.Tables, t)
	}
	return l, nil
}

// Lookup returns the first table's answer that has the key; an error from
// any table consulted ends the search with that error.
func (l *List) Lookup(ctx context.Context, key string) (string, bool, error) {
	for _, t := range l.Tables {
		v, ok, err := t.Lookup(ctx, key)
		if err != nil || ok {
			return v, ok, err
		}
	}
	return "", false, nil
}

// Close closes every table.
func (l *List) Close() error {
	var errs []error
	for _, t := range l.Tables {
		errs = append(errs, t.Close())
	}
	return errors.Join(errs...)
}

// Writer builds an indexed table file (hash:, btree:, cdb:) under a temporary
// name and renames it into place on Commit, so readers never see half a file.
type Writer interface {
	Add(key, value string) error
	Commit() error
	Abort() error
}

// Create starts building the indexed file for spec (e.g. "hash:/etc/aliases"
// builds /etc/aliases.cdb). The Writer is a *CDBWriter; Add stores keys as
// given (postmap folds them before) and rejects duplicates with ErrDuplicate.
func Create(spec string) (Writer, error) {
	typ, name, err := SplitSpec(spec)
	if err != nil {
		return nil, err
	}
	if !IsIndexed(typ) {
		return nil, fmt.Errorf("create %q: %w %q (only hash, btree and cdb are built)", spec, ErrUnsupported, typ)
	}
	return CreateCDB(IndexedPath(name))
}

// IsIndexed tells whether tables of type typ are built from a source file
// into a CDB file.
func IsIndexed(typ string) bool {
	return typ == "hash" || typ == "btree" || typ == "cdb"
}

// IndexedPath is the CDB file built for source file name.
func IndexedPath(name string) string {
	return name + ".cdb"
}
