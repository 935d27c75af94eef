package maps

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgsqlTable is pgsql:/path/to/file.cf (pgsql_table(5)): a query template
// run against one of a list of mirrored PostgreSQL servers.
//
// Unlike Postfix, the lookup key is never quoted into the SQL text: every
// %s, %u, %d, %S, %U, %D and %1..%9 of the query becomes a parameter ($1,
// $2, ...) bound by the driver (see pgQuery), so no key can change the
// statement.
type pgsqlTable struct {
	*dbCommon
	sql    string // the query with $n parameters
	params []byte // the expansion each $n stands for: s u d S U D 1..9
	warn   func(string)

	// retry is how long a host that failed is left alone (Postfix's
	// RETRY_CONN_INTV, one minute).
	retry time.Duration

	mu      sync.Mutex
	hosts   []*pgHost
	closed  bool
	closing sync.WaitGroup // pools of failed hosts being closed
}

// Kinds of hosts, in the order Postfix prefers them.
const (
	pgUnix = iota
	pgInet
	pgURI
)

// pgHost is one element of hosts: a server with its own connection pool,
// created on first use and shared by all lookups through the table.
type pgHost struct {
	name      string // as written in hosts, for messages
	kind      int
	config    *pgxpool.Config
	pool      *pgxpool.Pool // nil: not connected
	downUntil time.Time     // after a failure: not tried again before
}

// pgRetryInterval and pgIdleTimeout are Postfix's RETRY_CONN_INTV and
// IDLE_CONN_INTV; pgConnectTimeout bounds a connection attempt when the
// host gives none (connect_timeout, PGCONNECT_TIMEOUT).
const (
	pgRetryInterval  = time.Minute
	pgIdleTimeout    = time.Minute
	pgConnectTimeout = 10 * time.Second
)

func openPgSQL(name string, o Options) (Table, error) {
	p, err := readParamFile(name, o.warn)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !strings.HasPrefix(name, "/") && !strings.HasPrefix(name, ".") {
			return nil, fmt.Errorf("%w (the obsolete form with parameters in main.cf is not supported: name a configuration file)", err)
		}
		return nil, err
	}
	if p["query"] == "" && p["select_function"] != "" {
		// The deprecated select_function comes before the
		// select_field, table and where_field form.
		p["query"] = fmt.Sprintf("SELECT %s('%%s')", p["select_function"])
	}
	if p["dbname"] == "" {
		return nil, fmt.Errorf("%s: dbname is not set", name)
	}
	c, err := parseDBCommon(name, p, o)
	if err != nil {
		return nil, err
	}
	t := &pgsqlTable{dbCommon: c, warn: o.warn, retry: pgRetryInterval}
	if t.sql, t.params, err = pgQuery(c.query); err != nil {
		t.Close()
		return nil, fmt.Errorf("%s: query: %w", name, err)
	}
	hosts := strings.FieldsFunc(p["hosts"], func(r rune) bool { return strings.ContainsRune(" ,\t\r\n", r) })
	if len(hosts) == 0 {
		hosts = []string{"localhost"}
	}
	for _, h := range hosts {
		host, err := pgParseHost(h, p["dbname"], p["user"], p["password"])
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("%s: hosts: %w", name, err)
		}
		t.hosts = append(t.hosts, host)
	}
	return t, nil
}

// pgParseHost reads one element of hosts: postgresql://... (a libpq URI,
// used as is: user, password and dbname of the .cf file do not apply),
// unix:/directory or /directory (the server's socket directory),
// inet:host[:port] or host[:port].
func pgParseHost(h, dbname, user, password string) (*pgHost, error) {
	host := &pgHost{name: h}
	var conn string
	if strings.HasPrefix(h, "postgresql:") {
		host.kind = pgURI
		conn = h
		host.name = "postgresql://..."
		if u, err := url.Parse(h); err == nil {
			if _, set := u.User.Password(); set {
				u.User = url.UserPassword(u.User.Username(), "xxxxx")
			}
			host.name = u.String()
		}
	} else {
		addr := h
		if strings.HasPrefix(addr, "unix:") || strings.HasPrefix(addr, "inet:") {
			addr = addr[len("unix:"):]
		}
		var port string
		if addr == "" || addr[0] == '/' {
			host.kind = pgUnix
		} else {
			host.kind = pgInet
			if i := strings.LastIndexByte(addr, ':'); i >= 0 && !strings.HasSuffix(addr, "]") {
				addr, port = addr[:i], addr[i+1:]
				if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
					return nil, fmt.Errorf("%s: bad port %q", h, port)
				}
			}
			addr = strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
			if addr == "" {
				return nil, fmt.Errorf("%s: no host name", h)
			}
		}
		// libpq settings as URI query parameters: url.Values does the
		// quoting.
		q := url.Values{"dbname": {dbname}}
		for k, v := range map[string]string{"host": addr, "port": port, "user": user, "password": password} {
			if v != "" {
				q.Set(k, v)
			}
		}
		conn = "postgresql://?" + q.Encode()
	}
	cfg, err := pgxpool.ParseConfig(conn)
	if err != nil {
		// The message would quote the settings, password included.
		var pe *pgconn.ParseConfigError
		if errors.As(err, &pe) {
			if inner := errors.Unwrap(pe); inner != nil {
				return nil, fmt.Errorf("%s: bad connection settings: %v", host.name, inner)
			}
		}
		return nil, fmt.Errorf("%s: bad connection settings", host.name)
	}
	cfg.MinConns = 0
	cfg.MaxConnIdleTime = pgIdleTimeout
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = pgConnectTimeout
	}
	// Unnamed statements described once per connection: no server-side
	// prepared statements, so it works through pgbouncer too.
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	host.config = cfg
	return host, nil
}

// pgQuery turns a db_common(3) query template into SQL with parameters.
// An expansion outside quotes becomes $n; a quoted literal that is exactly
// one expansion ('%s') becomes $n, so the server infers its type as it
// would the literal's; a literal mixing text and expansions ('%u@%d')
// becomes a concatenation ($1::text || '@' || $2::text). %% is a
// percent sign. Expansions inside "identifiers" or $$dollar quotes$$, and
// $n parameters written in the template, are errors. Comments are copied
// as they are. params lists the expansion letter of each $n.
func pgQuery(tmpl string) (sql string, params []byte, err error) {
	var b []byte
	param := func(spec byte, cast bool) {
		params = append(params, spec)
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(params)), 10)
		if cast {
			b = append(b, "::text"...)
		}
	}
	isIdent := func(c byte) bool {
		return c == '_' || c == '$' || c >= 0x80 || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
	}
	spec := func(i int) (byte, error) { return templateSpec(tmpl, i) }
	// opaque copies tmpl[start:end], text in which no expansion may
	// appear (quoted identifiers, dollar quotes), turning %% into %.
	opaque := func(start, end int, what string) error {
		for i := start; i < end; i++ {
			if tmpl[i] != '%' {
				b = append(b, tmpl[i])
				continue
			}
			c, err := spec(i)
			if err != nil {
				return err
			}
			if c != '%' {
				return fmt.Errorf("%%%c inside %s: parameters cannot go there", c, what)
			}
			b = append(b, '%')
			i++
		}
		return nil
	}
	for i := 0; i < len(tmpl); {
		c := tmpl[i]
		switch {
		case c == '%':
			s, err := spec(i)
			if err != nil {
				return "", nil, err
			}
			if s == '%' {
				b = append(b, '%')
			} else {
				param(s, false)
			}
			i += 2
		case c == '\'':
			escape := i > 0 && (tmpl[i-1] == 'E' || tmpl[i-1] == 'e') && (i < 2 || !isIdent(tmpl[i-2]))
			n, err := pgLiteral(tmpl[i:], escape, func(text []string, specs []byte) {
				if len(specs) == 0 {
					b = append(b, '\'')
					b = append(b, text[0]...)
					b = append(b, '\'')
					return
				}
				if escape {
					b = b[:len(b)-1] // the E, given to each text part instead
				}
				if len(specs) == 1 && text[0] == "" && text[1] == "" {
					param(specs[0], false)
					return
				}
				b = append(b, '(')
				for k, sp := range specs {
					if text[k] != "" {
						b = append(b, pgQuoted(text[k], escape)...)
						b = append(b, " || "...)
					}
					param(sp, true)
					if k < len(specs)-1 {
						b = append(b, " || "...)
					}
				}
				if last := text[len(specs)]; last != "" {
					b = append(b, " || "...)
					b = append(b, pgQuoted(last, escape)...)
				}
				b = append(b, ')')
			})
			if err != nil {
				return "", nil, err
			}
			i += n
		case c == '"':
			end := -1
			for j := i + 1; j < len(tmpl); j++ {
				if tmpl[j] == '"' {
					if j+1 < len(tmpl) && tmpl[j+1] == '"' {
						j++
						continue
					}
					end = j
					break
				}
			}
			if end < 0 {
				return "", nil, errors.New("unterminated quoted identifier")
			}
			if err := opaque(i, end+1, "a quoted identifier"); err != nil {
				return "", nil, err
			}
			i = end + 1
		case c == '$' && (i == 0 || !isIdent(tmpl[i-1])):
			j := i + 1
			if j < len(tmpl) && '0' <= tmpl[j] && tmpl[j] <= '9' {
				return "", nil, errors.New("$n parameters cannot be written in the template: use %s, %u, %d ...")
			}
			for j < len(tmpl) && isIdent(tmpl[j]) && tmpl[j] != '$' {
				j++
			}
			if j >= len(tmpl) || tmpl[j] != '$' {
				b = append(b, '$')
				i++
				continue
			}
			tag := tmpl[i : j+1]
			k := strings.Index(tmpl[j+1:], tag)
			if k < 0 {
				return "", nil, fmt.Errorf("unterminated dollar-quoted string %s", tag)
			}
			end := j + 1 + k + len(tag)
			if err := opaque(i, end, "a dollar-quoted string"); err != nil {
				return "", nil, err
			}
			i = end
		case c == '-' && strings.HasPrefix(tmpl[i:], "--"):
			end := strings.IndexByte(tmpl[i:], '\n')
			if end < 0 {
				end = len(tmpl) - i
			}
			b = append(b, tmpl[i:i+end]...)
			i += end
		case c == '/' && strings.HasPrefix(tmpl[i:], "/*"):
			depth, j := 0, i
			for j < len(tmpl) {
				if strings.HasPrefix(tmpl[j:], "/*") {
					depth++
					j += 2
				} else if strings.HasPrefix(tmpl[j:], "*/") {
					depth--
					j += 2
					if depth == 0 {
						break
					}
				} else {
					j++
				}
			}
			if depth != 0 {
				return "", nil, errors.New("unterminated /* comment")
			}
			b = append(b, tmpl[i:j]...)
			i = j
		default:
			b = append(b, c)
			i++
		}
	}
	return string(b), params, nil
}

// pgLiteral reads the quoted literal at the start of s ('...', a quote
// doubled inside, and \x escapes when escape is set for E'...') and calls
// emit with its text split at the expansions: len(text) == len(specs)+1,
// each text still in SQL literal form, %% already turned into %. It
// returns the length of the literal in s.
func pgLiteral(s string, escape bool, emit func(text []string, specs []byte)) (int, error) {
	var text []string
	var specs []byte
	var cur strings.Builder
	j := 1
	for {
		if j >= len(s) {
			return 0, errors.New("unterminated quoted string")
		}
		c := s[j]
		switch {
		case c == '\'' && j+1 < len(s) && s[j+1] == '\'':
			cur.WriteString("''")
			j += 2
		case c == '\'':
			text = append(text, cur.String())
			emit(text, specs)
			return j + 1, nil
		case escape && c == '\\' && j+1 < len(s) && s[j+1] != '%':
			cur.WriteString(s[j : j+2])
			j += 2
		case c == '%':
			sp, err := templateSpec(s, j)
			if err != nil {
				return 0, err
			}
			if sp == '%' {
				cur.WriteByte('%')
			} else {
				text = append(text, cur.String())
				cur.Reset()
				specs = append(specs, sp)
			}
			j += 2
		default:
			cur.WriteByte(c)
			j++
		}
	}
}

// templateSpec returns the letter of the % sequence at s[i].
func templateSpec(s string, i int) (byte, error) {
	if i+1 >= len(s) {
		return 0, errors.New("'%' at end of template")
	}
	c := s[i+1]
	if !strings.ContainsRune("%sudSUD123456789", rune(c)) {
		return 0, fmt.Errorf("invalid %%%c", c)
	}
	return c, nil
}

func pgQuoted(text string, escape bool) string {
	if escape {
		return "E'" + text + "'"
	}
	return "'" + text + "'"
}

// Lookup runs the query on an active host, or connects to one in random
// order (UNIX-domain sockets first, as Postfix does). A host that cannot
// be reached, or whose connection breaks, is left alone for a minute and
// the next one is tried; with none left the lookup fails (a temporary
// error). An error reported by the server for the query itself (bad SQL,
// a key the column type rejects) fails the lookup without failing over.
func (t *pgsqlTable) Lookup(ctx context.Context, key string) (string, bool, error) {
	key, ok, err := t.lookupKey(ctx, key)
	if err != nil || !ok {
		return "", false, err
	}
	// PostgreSQL text is UTF-8 without NUL: such a key cannot be in the
	// table (and must not become a query error a client could provoke).
	if !utf8.ValidString(key) || strings.IndexByte(key, 0) >= 0 {
		return "", false, nil
	}
	if _, ok := expandTemplate(t.query, key, key, func(s string) string { return s }); !ok {
		return "", false, nil // the key lacks a part the query needs
	}
	args := make([]any, 0, len(t.params)+1)
	args = append(args, pgx.QueryResultFormats{pgx.TextFormatCode})
	for _, sp := range t.params {
		v, _ := expandTemplate("%"+string(sp), key, key, func(s string) string { return s })
		args = append(args, v)
	}
	var lastErr error
	for range len(t.hosts) + 1 {
		h, pool, err := t.pick()
		if err != nil {
			return "", false, fmt.Errorf("pgsql table %s: %w", t.path, err)
		}
		if h == nil {
			break
		}
		values, err := pgRun(ctx, pool, t.sql, args)
		if err != nil {
			err = oneLineError{err}
		}
		if err == nil {
			var out []string
			for _, v := range values {
				if out, err = t.addResult(out, v, key, "pgsql"); err != nil {
					t.warn(fmt.Sprintf("pgsql table %s: expansion limit exceeded for key: '%s'", t.path, key))
					return "", false, err
				}
			}
			if len(out) == 0 {
				return "", false, nil
			}
			return strings.Join(out, ","), true, nil
		}
		if ctx.Err() != nil {
			return "", false, fmt.Errorf("pgsql table %s: %w", t.path, ctx.Err())
		}
		if !pgHostFailure(err) {
			t.warn(fmt.Sprintf("pgsql query failed: error from host %s: %v", h.name, err))
			return "", false, fmt.Errorf("pgsql table %s: host %s: %w", t.path, h.name, err)
		}
		t.warn(fmt.Sprintf("pgsql table %s: host %s failed: %v", t.path, h.name, err))
		t.down(h, pool)
		lastErr = fmt.Errorf("host %s: %w", h.name, err)
	}
	if lastErr == nil {
		lastErr = errors.New("no host available: all failed less than a retry interval ago")
	}
	return "", false, fmt.Errorf("pgsql table %s: %w", t.path, lastErr)
}

// oneLineError shows an error on one line: the driver reports each
// address it tried on a line of its own, and log lines are single lines.
type oneLineError struct{ err error }

func (e oneLineError) Error() string { return strings.Join(strings.Fields(e.err.Error()), " ") }
func (e oneLineError) Unwrap() error { return e.err }

// pgRun runs the query and returns every column of every row as text, a
// NULL as "".
func pgRun(ctx context.Context, pool *pgxpool.Pool, sql string, args []any) ([]string, error) {
	rows, err := pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		for _, v := range rows.RawValues() {
			out = append(out, string(v))
		}
	}
	return out, rows.Err()
}

// pgHostFailure tells a failure of the host (unreachable, login refused,
// connection lost, server shutting down) from an error in the query that
// another host would report as well.
func pgHostFailure(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return true
	}
	switch {
	case pe.Severity == "FATAL" || pe.Severity == "PANIC":
		return true
	case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "57P"), strings.HasPrefix(pe.Code, "53"):
		// connection exception, operator intervention (shutdown),
		// insufficient resources (too many connections)
		return true
	}
	return false
}

// pick returns the host to query and its pool: an active one if any, else
// one not failed within the retry interval, whose pool it creates (the
// connection is made by the query). Among equals the choice is random.
func (t *pgsqlTable) pick() (*pgHost, *pgxpool.Pool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, nil, errors.New("table is closed")
	}
	choose := func(ok func(*pgHost) bool) *pgHost {
		for kind := pgUnix; kind <= pgURI; kind++ {
			var c []*pgHost
			for _, h := range t.hosts {
				if h.kind == kind && ok(h) {
					c = append(c, h)
				}
			}
			if len(c) > 0 {
				return c[rand.IntN(len(c))]
			}
		}
		return nil
	}
	if h := choose(func(h *pgHost) bool { return h.pool != nil }); h != nil {
		return h, h.pool, nil
	}
	now := time.Now()
	h := choose(func(h *pgHost) bool { return !now.Before(h.downUntil) })
	if h == nil {
		return nil, nil, nil
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), h.config)
	if err != nil {
		return nil, nil, fmt.Errorf("host %s: %w", h.name, err)
	}
	h.pool = pool
	return h, pool, nil
}

// down marks h failed and closes its pool, unless another lookup already
// did (h.pool is no longer pool).
func (t *pgsqlTable) down(h *pgHost, pool *pgxpool.Pool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h.pool != pool {
		return
	}
	h.pool = nil
	h.downUntil = time.Now().Add(t.retry)
	// Close waits for connections other lookups still hold.
	t.closing.Add(1)
	go func() {
		defer t.closing.Done()
		pool.Close()
	}()
}

func (t *pgsqlTable) Close() error {
	t.mu.Lock()
	t.closed = true
	var pools []*pgxpool.Pool
	for _, h := range t.hosts {
		if h.pool != nil {
			pools = append(pools, h.pool)
			h.pool = nil
		}
	}
	t.mu.Unlock()
	for _, p := range pools {
		p.Close()
	}
	t.closing.Wait()
	return t.closeDomain()
}
