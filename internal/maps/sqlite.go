package maps

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
)

// sqliteTable is sqlite:/path/to/file.cf (sqlite_table(5)): a query
// template run against an SQLite database opened read-only.
type sqliteTable struct {
	*dbCommon
	db *sql.DB
}

// dbCommon is what the SQL tables (sqlite, pgsql) share, as Postfix's
// db_common(3) does: the query and result_format templates, the domain
// filter and expansion_limit, read from the table's .cf file.
type dbCommon struct {
	path           string
	query          string
	resultFormat   string
	domains        []string
	domainTable    Table
	expansionLimit int
	noFold         bool
}

// readParamFile reads a main.cf-style "name = value" file as the *_table
// configuration files are written.
func readParamFile(path string, warn func(string)) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	params := map[string]string{}
	lr := NewLineReader(f, path, warn)
	for {
		l, err := lr.Next()
		if errors.Is(err, io.EOF) {
			return params, nil
		}
		if err != nil {
			return nil, err
		}
		name, value, ok := strings.Cut(l.Text, "=")
		name = strings.Trim(name, spaceChars)
		if !ok || name == "" || strings.ContainsAny(name, spaceChars) {
			return nil, fmt.Errorf("%s, line %d: expected \"name = value\"", path, l.Lineno)
		}
		params[name] = strings.Trim(value, spaceChars)
	}
}

func openSQLite(name string, o Options) (Table, error) {
	p, err := readParamFile(name, o.warn)
	if err != nil {
		return nil, err
	}
	dbpath := p["dbpath"]
	if dbpath == "" {
		return nil, fmt.Errorf("%s: dbpath is not set", name)
	}
	c, err := parseDBCommon(name, p, o)
	if err != nil {
		return nil, err
	}
	t := &sqliteTable{dbCommon: c}
	if _, err := os.Stat(dbpath); err != nil {
		t.Close()
		return nil, fmt.Errorf("%s: dbpath: %w", name, err)
	}
	dsn := (&url.URL{Scheme: "file", Path: dbpath, RawQuery: "mode=ro&_pragma=query_only(1)"}).String()
	if t.db, err = sql.Open("sqlite", dsn); err != nil {
		t.Close()
		return nil, fmt.Errorf("%s: open %s: %w", name, dbpath, err)
	}
	return t, nil
}

// parseDBCommon reads the db_common(3) parameters of a table's .cf file:
// query (or the deprecated select_field, table, where_field and
// additional_conditions), result_format, expansion_limit and domain.
func parseDBCommon(name string, p map[string]string, o Options) (*dbCommon, error) {
	var err error
	t := &dbCommon{path: name, resultFormat: "%s", noFold: o.NoFold}
	t.query = p["query"]
	if t.query == "" {
		// The deprecated form: select_field, table, where_field and
		// additional_conditions.
		sel, tab, where := p["select_field"], p["table"], p["where_field"]
		if sel == "" || tab == "" || where == "" {
			return nil, fmt.Errorf("%s: query is not set (nor select_field, table and where_field)", name)
		}
		t.query = fmt.Sprintf("SELECT %s FROM %s WHERE %s = '%%s' %s", sel, tab, where, p["additional_conditions"])
	}
	if err := checkTemplate(t.query, false); err != nil {
		return nil, fmt.Errorf("%s: query: %w", name, err)
	}
	if v, ok := p["result_format"]; ok {
		t.resultFormat = v
	}
	if err := checkTemplate(t.resultFormat, true); err != nil {
		return nil, fmt.Errorf("%s: result_format: %w", name, err)
	}
	if v := p["expansion_limit"]; v != "" {
		if t.expansionLimit, err = strconv.Atoi(v); err != nil || t.expansionLimit < 0 {
			return nil, fmt.Errorf("%s: expansion_limit: bad number %q", name, v)
		}
	}
	if d := p["domain"]; d != "" {
		elems, err := splitList(d)
		if err != nil {
			return nil, fmt.Errorf("%s: domain: %w", name, err)
		}
		for _, e := range elems {
			if strings.Contains(e, ":") {
				if t.domainTable != nil {
					t.closeDomain()
					return nil, fmt.Errorf("%s: domain: only one type:table is supported", name)
				}
				if t.domainTable, err = OpenWith(e, o); err != nil {
					return nil, fmt.Errorf("%s: domain: %w", name, err)
				}
				continue
			}
			t.domains = append(t.domains, fold(e))
		}
	}
	return t, nil
}

// checkTemplate rejects % sequences that db_common(3) does not know.
func checkTemplate(s string, result bool) error {
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if i+1 == len(s) {
			return errors.New("'%' at end of template")
		}
		i++
		c := s[i]
		if !strings.ContainsRune("%sudSUD123456789", rune(c)) {
			return fmt.Errorf("invalid %%%c in %q", c, s)
		}
	}
	return nil
}

// sqlQuote escapes a value for use inside '...' in SQLite.
func sqlQuote(s string) string { return strings.ReplaceAll(s, "'", "''") }

// expandTemplate fills in a db_common(3) template. value is what %s, %u,
// %d and %1..%9 refer to; key is what %S, %U, %D refer to. ok=false means
// the query is suppressed (an empty local part or a missing domain).
func expandTemplate(tmpl, value, key string, quote func(string) string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c != '%' || i+1 == len(tmpl) {
			b.WriteByte(c)
			continue
		}
		i++
		src := value
		spec := tmpl[i]
		if spec >= 'A' && spec <= 'Z' {
			src, spec = key, spec+('a'-'A')
		}
		local, domain, hasAt := cutAddress(src)
		switch spec {
		case '%':
			b.WriteByte('%')
		case 's':
			b.WriteString(quote(src))
		case 'u':
			if hasAt && local == "" {
				return "", false
			}
			b.WriteString(quote(local))
		case 'd':
			if !hasAt || domain == "" {
				return "", false
			}
			b.WriteString(quote(domain))
		default: // %1..%9: domain labels from the right
			if !hasAt || domain == "" {
				return "", false
			}
			labels := strings.Split(domain, ".")
			n := int(spec - '0')
			if n > len(labels) || labels[len(labels)-n] == "" {
				return "", false
			}
			b.WriteString(quote(labels[len(labels)-n]))
		}
	}
	return b.String(), true
}

// cutAddress splits user@domain at the last '@'; without one, the local
// part is the whole string.
func cutAddress(s string) (local, domain string, hasAt bool) {
	i := strings.LastIndexByte(s, '@')
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

func (t *dbCommon) domainOK(ctx context.Context, key string) (bool, error) {
	if t.domains == nil && t.domainTable == nil {
		return true, nil
	}
	local, domain, hasAt := cutAddress(key)
	if !hasAt || local == "" || domain == "" {
		return false, nil
	}
	for _, d := range t.domains {
		if d == fold(domain) {
			return true, nil
		}
	}
	if t.domainTable != nil {
		_, ok, err := t.domainTable.Lookup(ctx, domain)
		return ok, err
	}
	return false, nil
}

// lookupKey folds key (unless NoFold) and tells whether it may be looked
// up at all: a key outside the domain filter is not found without a query.
func (t *dbCommon) lookupKey(ctx context.Context, key string) (string, bool, error) {
	if !t.noFold {
		key = fold(key)
	}
	ok, err := t.domainOK(ctx, key)
	return key, ok, err
}

// addResult appends value, formatted by result_format, to out; an empty
// value or formatted result is skipped. More results than expansion_limit
// is an error.
func (t *dbCommon) addResult(out []string, value, key, typ string) ([]string, error) {
	if value == "" {
		return out, nil
	}
	r, ok := expandTemplate(t.resultFormat, value, key, func(s string) string { return s })
	if !ok || r == "" {
		return out, nil
	}
	out = append(out, r)
	if t.expansionLimit > 0 && len(out) > t.expansionLimit {
		return out, fmt.Errorf("%s table %s: key %q: result exceeds expansion_limit %d", typ, t.path, key, t.expansionLimit)
	}
	return out, nil
}

// closeDomain closes the domain filter's table, if any.
func (t *dbCommon) closeDomain() error {
	if t.domainTable != nil {
		return t.domainTable.Close()
	}
	return nil
}

func (t *sqliteTable) Lookup(ctx context.Context, key string) (string, bool, error) {
	key, ok, err := t.lookupKey(ctx, key)
	if err != nil || !ok {
		return "", false, err
	}
	q, ok := expandTemplate(t.query, key, key, sqlQuote)
	if !ok {
		return "", false, nil
	}
	rows, err := t.db.QueryContext(ctx, q)
	if err != nil {
		return "", false, fmt.Errorf("sqlite table %s: %w", t.path, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v sql.NullString
		if err := rows.Scan(&v); err != nil {
			return "", false, fmt.Errorf("sqlite table %s: %w", t.path, err)
		}
		if out, err = t.addResult(out, v.String, key, "sqlite"); err != nil {
			return "", false, err
		}
	}
	if err := rows.Err(); err != nil {
		return "", false, fmt.Errorf("sqlite table %s: %w", t.path, err)
	}
	if len(out) == 0 {
		return "", false, nil
	}
	return strings.Join(out, ","), true, nil
}

func (t *sqliteTable) Close() error {
	var errs []error
	if t.db != nil {
		errs = append(errs, t.db.Close())
	}
	errs = append(errs, t.closeDomain())
	return errors.Join(errs...)
}
