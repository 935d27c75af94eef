package maps

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestPgQuery(t *testing.T) {
	for _, c := range []struct {
		tmpl, sql, params, err string
	}{
		{tmpl: "SELECT goto FROM alias WHERE address = '%s'", sql: "SELECT goto FROM alias WHERE address = $1", params: "s"},
		{tmpl: "SELECT x FROM t WHERE id = %s AND d = '%d'", sql: "SELECT x FROM t WHERE id = $1 AND d = $2", params: "sd"},
		{tmpl: "SELECT x FROM t WHERE a = '%u@%d'", sql: "SELECT x FROM t WHERE a = ($1::text || '@' || $2::text)", params: "ud"},
		{tmpl: "SELECT x FROM t WHERE a = 'pre-%s'", sql: "SELECT x FROM t WHERE a = ('pre-' || $1::text)", params: "s"},
		{tmpl: "SELECT x FROM t WHERE a = '%s-post'", sql: "SELECT x FROM t WHERE a = ($1::text || '-post')", params: "s"},
		{tmpl: "SELECT x FROM t WHERE a LIKE '%%%s' AND b = 100%%2", sql: "SELECT x FROM t WHERE a LIKE ('%' || $1::text) AND b = 100%2", params: "s"},
		{tmpl: "SELECT 'it''s %s' FROM t", sql: "SELECT ('it''s ' || $1::text) FROM t", params: "s"},
		{tmpl: "SELECT 'no expansion, 50%%'", sql: "SELECT 'no expansion, 50%'", params: ""},
		{tmpl: `SELECT E'a\'b%s' FROM t`, sql: `SELECT (E'a\'b' || $1::text) FROM t`, params: "s"},
		{tmpl: `SELECT E'%s' FROM t`, sql: `SELECT $1 FROM t`, params: "s"},
		{tmpl: `SELECT fe'%s'`, sql: `SELECT fe$1`, params: "s"}, // "fe" is an identifier, not E
		{tmpl: "SELECT %1, %2, %S, %U, %D", sql: "SELECT $1, $2, $3, $4, $5", params: "12SUD"},
		{tmpl: `SELECT "we%%ird" FROM t WHERE k = '%s'`, sql: `SELECT "we%ird" FROM t WHERE k = $1`, params: "s"},
		{tmpl: "SELECT $$lit %% $$ || '%s'", sql: "SELECT $$lit % $$ || $1", params: "s"},
		{tmpl: "SELECT $tag$ x $tag$, '%s'", sql: "SELECT $tag$ x $tag$, $1", params: "s"},
		{tmpl: "SELECT a$b FROM t -- %s here\nWHERE k = '%s' /* %d /* nested */ */", sql: "SELECT a$b FROM t -- %s here\nWHERE k = $1 /* %d /* nested */ */", params: "s"},
		{tmpl: "SELECT f('%s')", sql: "SELECT f($1)", params: "s"},
		{tmpl: "SELECT %x", err: "invalid %x"},
		{tmpl: "SELECT '%s", err: "unterminated quoted string"},
		{tmpl: "SELECT 'x%", err: "'%' at end"},
		{tmpl: "SELECT 1 %", err: "'%' at end"},
		{tmpl: `SELECT "%s"`, err: "inside a quoted identifier"},
		{tmpl: `SELECT "x`, err: "unterminated quoted identifier"},
		{tmpl: "SELECT $q$ %s $q$", err: "inside a dollar-quoted string"},
		{tmpl: "SELECT $q$ x", err: "unterminated dollar-quoted"},
		{tmpl: "SELECT x FROM t WHERE k = $1", err: "$n parameters"},
		{tmpl: "SELECT /* x", err: "unterminated /*"},
	} {
		sql, params, err := pgQuery(c.tmpl)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("pgQuery(%q) error %v, want %q", c.tmpl, err, c.err)
			}
			continue
		}
		if err != nil || sql != c.sql || string(params) != c.params {
			t.Errorf("pgQuery(%q) = %q %q %v, want %q %q", c.tmpl, sql, params, err, c.sql, c.params)
		}
	}
}

func writeCF(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	// Postfix waits for a configuration file modified in the last
	// second to settle.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPgsqlConfig(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PGPORT", "")
	t.Setenv("PGHOST", "")
	t.Setenv("PGUSER", "")
	cf := writeCF(t, dir, "ok.cf", `hosts = unix:/run/pg, inet:db1.example:5433 db2.example
  [::1]:6000 postgresql://u:secret@db3.example/other?sslmode=disable /sock
user = mail
password = it's\secret
dbname = maildb
select_function = lookup_alias
`)
	tab, err := Open("pgsql:" + cf)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	pt := tab.(*pgsqlTable)
	if pt.sql != "SELECT lookup_alias($1)" || string(pt.params) != "s" {
		t.Errorf("select_function gave %q %q", pt.sql, pt.params)
	}
	type hostWant struct {
		name       string
		kind       int
		host       string
		port       uint16
		user, db   string
		password   string
		noPassword bool
	}
	want := []hostWant{
		{"unix:/run/pg", pgUnix, "/run/pg", 5432, "mail", "maildb", `it's\secret`, false},
		{"inet:db1.example:5433", pgInet, "db1.example", 5433, "mail", "maildb", `it's\secret`, false},
		{"db2.example", pgInet, "db2.example", 5432, "mail", "maildb", `it's\secret`, false},
		{"[::1]:6000", pgInet, "::1", 6000, "mail", "maildb", `it's\secret`, false},
		{"postgresql://u:xxxxx@db3.example/other?sslmode=disable", pgURI, "db3.example", 5432, "u", "other", "secret", false},
		{"/sock", pgUnix, "/sock", 5432, "mail", "maildb", `it's\secret`, false},
	}
	if len(pt.hosts) != len(want) {
		t.Fatalf("%d hosts, want %d", len(pt.hosts), len(want))
	}
	for i, w := range want {
		h := pt.hosts[i]
		cc := h.config.ConnConfig
		if h.name != w.name || h.kind != w.kind || cc.Host != w.host || cc.Port != w.port || cc.User != w.user || cc.Database != w.db || cc.Password != w.password {
			t.Errorf("host %d: %q kind %d %s:%d user %q db %q pw %q, want %+v", i, h.name, h.kind, cc.Host, cc.Port, cc.User, cc.Database, cc.Password, w)
		}
		if cc.ConnectTimeout != pgConnectTimeout || h.config.MaxConnIdleTime != pgIdleTimeout {
			t.Errorf("host %d: timeouts %v %v", i, cc.ConnectTimeout, h.config.MaxConnIdleTime)
		}
	}

	// No hosts: localhost, as Postfix.
	def, err := Open("pgsql:" + writeCF(t, dir, "def.cf", "dbname = x\nquery = SELECT 1 WHERE '%s' = ''\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer def.Close()
	if h := def.(*pgsqlTable).hosts; len(h) != 1 || h[0].name != "localhost" || h[0].kind != pgInet {
		t.Errorf("default hosts %+v", h[0])
	}

	for name, c := range map[string]struct{ text, err string }{
		"nodb":      {"hosts = x\nquery = SELECT '%s'\n", "dbname is not set"},
		"noquery":   {"dbname = x\n", "query is not set"},
		"badspec":   {"dbname = x\nquery = SELECT '%q'\n", "invalid %q"},
		"badsql":    {"dbname = x\nquery = SELECT \"%s\"\n", "quoted identifier"},
		"badport":   {"dbname = x\nquery = SELECT '%s'\nhosts = db:http\n", "bad port"},
		"bigport":   {"dbname = x\nquery = SELECT '%s'\nhosts = db:70000\n", "bad port"},
		"nohost":    {"dbname = x\nquery = SELECT '%s'\nhosts = inet::5432\n", "no host name"},
		"badline":   {"dbname x\n", "line 1"},
		"badresult": {"dbname = x\nquery = SELECT '%s'\nresult_format = %z\n", "result_format"},
		"badlimit":  {"dbname = x\nquery = SELECT '%s'\nexpansion_limit = -1\n", "expansion_limit"},
		"baduri":    {"dbname = x\nquery = SELECT '%s'\nhosts = postgresql://u:topsecret@h:notaport/db\n", "bad connection settings"},
	} {
		_, err := Open("pgsql:" + writeCF(t, dir, name+".cf", c.text))
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: error %v, want %q", name, err, c.err)
		}
		if err != nil && strings.Contains(err.Error(), "topsecret") {
			t.Errorf("%s: error shows the password: %v", name, err)
		}
	}
	if _, err := Open("pgsql:pgsqlname"); err == nil || !strings.Contains(err.Error(), "main.cf is not supported") {
		t.Errorf("main.cf form: %v", err)
	}
}

// pgCluster is a private PostgreSQL server in a temporary directory,
// listening on 127.0.0.1:port and on a UNIX socket in dir.
type pgCluster struct {
	bin  string // directory of initdb, pg_ctl
	dir  string
	port int
	run  []string // command prefix: runuser when running as root
}

// startPostgres initialises and starts a cluster whose superuser is
// "mailhorn" with trust authentication, stopped and removed at cleanup.
// Without the PostgreSQL binaries the test is skipped (fails under CI).
func startPostgres(t *testing.T) *pgCluster {
	t.Helper()
	bin := ""
	if p, err := exec.LookPath("initdb"); err == nil {
		bin = filepath.Dir(p)
	} else if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(m) > 0 {
		sort.Strings(m)
		bin = filepath.Dir(m[len(m)-1])
	}
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("PostgreSQL (initdb, pg_ctl) is required in CI: apt-get install postgresql")
		}
		t.Skip("PostgreSQL not installed (initdb, pg_ctl): skipping")
	}
	// A directory under /tmp: short enough for the socket path, and
	// reachable by the server's user when we run as root.
	dir, err := os.MkdirTemp("", "mh-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c := &pgCluster{bin: bin, dir: dir}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		// postgres refuses to run as root.
		name := "postgres"
		u, err := user.Lookup(name)
		if err != nil {
			name = "nobody"
			if u, err = user.Lookup(name); err != nil {
				t.Fatal("running as root without a postgres or nobody user")
			}
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		c.run = []string{"runuser", "-u", name, "--"}
	}
	c.exec(t, "initdb", "-A", "trust", "-U", "mailhorn", "-E", "UTF8", "--no-sync", "--no-instructions", "-D", filepath.Join(dir, "data"))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	c.start(t)
	t.Cleanup(func() { c.stop(t) })
	return c
}

func (c *pgCluster) exec(t *testing.T, tool string, args ...string) {
	t.Helper()
	argv := append(append(append([]string{}, c.run...), filepath.Join(c.bin, tool)), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		t.Fatalf("%s: %v\n%s\n%s", tool, err, out.String(), log)
	}
}

func (c *pgCluster) start(t *testing.T) {
	t.Helper()
	c.exec(t, "pg_ctl", "start", "-w", "-s", "-D", filepath.Join(c.dir, "data"), "-l", filepath.Join(c.dir, "log"),
		"-o", fmt.Sprintf("-F -k %s -h 127.0.0.1 -p %d", c.dir, c.port))
}

func (c *pgCluster) stop(t *testing.T) {
	t.Helper()
	pid := filepath.Join(c.dir, "data", "postmaster.pid")
	if _, err := os.Stat(pid); err != nil {
		return
	}
	c.exec(t, "pg_ctl", "stop", "-w", "-s", "-m", "fast", "-D", filepath.Join(c.dir, "data"))
}

// sql runs statements as the superuser in database postgres.
func (c *pgCluster) sql(t *testing.T, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("host=127.0.0.1 port=%d user=mailhorn dbname=postgres sslmode=disable", c.port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

const pgSchema = `CREATE TABLE alias (address TEXT, goto TEXT, domain TEXT, extra TEXT)`

var pgRows = []string{
	`INSERT INTO alias VALUES ('joe@example.com', 'joe@home.example', 'example.com', NULL)`,
	`INSERT INTO alias VALUES ('o''brien@example.com', 'ob@home.example', 'example.com', '')`,
	`INSERT INTO alias VALUES ('back\slash@example.com', 'bs@home.example', 'example.com', NULL)`,
	`INSERT INTO alias VALUES ('list@example.com', 'a@x.example', 'example.com', 'c@x.example')`,
	`INSERT INTO alias VALUES ('list@example.com', 'b@x.example', 'example.com', NULL)`,
	`INSERT INTO alias VALUES ('bare', 'local-bare', NULL, NULL)`,
	`INSERT INTO alias VALUES ('null@example.com', NULL, 'example.com', NULL)`,
	`INSERT INTO alias VALUES ('joe@other.example', 'joe@elsewhere', 'other.example', NULL)`,
	`CREATE TABLE nums (id INTEGER, name TEXT)`,
	`INSERT INTO nums VALUES (42, 'forty-two')`,
}

func pgCF(c *pgCluster, body string) string {
	return fmt.Sprintf("hosts = inet:127.0.0.1:%d\nuser = mailhorn\ndbname = postgres\n%s", c.port, body)
}

func TestPgsqlTable(t *testing.T) {
	c := startPostgres(t)
	c.sql(t, append([]string{pgSchema}, pgRows...)...)
	dir := t.TempDir()
	open := func(name, body string) *pgsqlTable {
		t.Helper()
		tab, err := Open("pgsql:" + writeCF(t, dir, name, pgCF(c, body)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tab.Close() })
		return tab.(*pgsqlTable)
	}

	plain := open("plain.cf", "query = SELECT goto FROM alias WHERE address = '%s'\n")
	checkLookups(t, plain, []lookupCase{
		{"joe@example.com", "joe@home.example", true},
		{"JOE@Example.COM", "joe@home.example", true}, // folded
		{"nobody@example.com", "", false},
		{"list@example.com", "a@x.example,b@x.example", true},
		{"bare", "local-bare", true},
		{"null@example.com", "", false}, // a NULL value is skipped
		{"o'brien@example.com", "ob@home.example", true},
		{`back\slash@example.com`, "bs@home.example", true},
		// Keys that would break out of a quoted literal find nothing and
		// change nothing.
		{"x' OR '1'='1", "", false},
		{`x\' OR 1=1 --`, "", false},
		{"'; DROP TABLE alias; --", "", false},
		{"\xff\xfe@example.com", "", false}, // not UTF-8: not looked up
		{"nul\x00@example.com", "", false},
	})
	checkLookups(t, plain, []lookupCase{{"joe@example.com", "joe@home.example", true}}) // the table survived

	// Every non-empty column of every row is a result; result_format
	// applies to each.
	multi := open("multi.cf", "query = SELECT goto, extra FROM alias WHERE address = '%s' ORDER BY goto\nresult_format = <%s> for %U\n")
	checkLookups(t, multi, []lookupCase{
		{"list@example.com", "<a@x.example> for list,<c@x.example> for list,<b@x.example> for list", true},
		{"o'brien@example.com", "<ob@home.example> for o'brien", true},
	})

	// Partial keys and the domain filter.
	parts := open("parts.cf", "query = SELECT goto FROM alias WHERE address = '%u@%d' AND domain = '%2.%1'\ndomain = example.com, other.example\nresult_format = %d\n")
	checkLookups(t, parts, []lookupCase{
		{"joe@example.com", "home.example", true},
		{"joe@other.example", "elsewhere", true},
		{"list@example.com", "x.example,x.example", true},
		{"joe@third.example", "", false},   // not in domain
		{"bare", "", false},                // unqualified: not looked up
		{"@example.com", "", false},        // empty local part
		{"joe@example.com.", "", false},    // not in domain
		{"joe@sub.example.com", "", false}, // domain filter matches whole names only
	})

	// expansion_limit: more results is an error, not a truncated answer.
	limit := open("limit.cf", "query = SELECT goto FROM alias WHERE address = '%s'\nexpansion_limit = 1\n")
	checkLookups(t, limit, []lookupCase{{"joe@example.com", "joe@home.example", true}})
	if _, _, err := limit.Lookup(context.Background(), "list@example.com"); err == nil || !strings.Contains(err.Error(), "expansion_limit") {
		t.Errorf("expansion_limit exceeded: %v", err)
	}

	// A key the column type rejects is an error from the server: a
	// temporary failure, and the host stays in use.
	var warns []string
	var mu sync.Mutex
	nt, err := OpenWith("pgsql:"+writeCF(t, dir, "nums.cf", pgCF(c, "query = SELECT name FROM nums WHERE id = '%s'\n")),
		Options{Warn: func(s string) { mu.Lock(); warns = append(warns, s); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	defer nt.Close()
	nums := nt.(*pgsqlTable)
	checkLookups(t, nums, []lookupCase{{"42", "forty-two", true}, {"43", "", false}})
	if _, _, err := nums.Lookup(context.Background(), "abc"); err == nil {
		t.Error("no error for a key the column type rejects")
	}
	if nums.hosts[0].pool == nil || !nums.hosts[0].downUntil.IsZero() {
		t.Error("a query error marked the host down")
	}
	checkLookups(t, nums, []lookupCase{{"42", "forty-two", true}})
	mu.Lock()
	if len(warns) != 1 || !strings.Contains(warns[0], "pgsql query failed") || !strings.Contains(warns[0], "22P02") {
		t.Errorf("warnings %q", warns)
	}
	mu.Unlock()

	// The query runs read-write as the table's user: that is the
	// administrator's choice, as with Postfix. But the key cannot add a
	// statement: the injection above left the table in place.
	badsql := open("badsql.cf", "query = SELECT goto FROM nosuchtable WHERE address = '%s'\n")
	if _, _, err := badsql.Lookup(context.Background(), "joe@example.com"); err == nil || !strings.Contains(err.Error(), "nosuchtable") {
		t.Errorf("missing table: %v", err)
	}

	// Concurrent lookups share the pool.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, want := "joe@example.com", "joe@home.example"
			if i%2 == 1 {
				k, want = "list@example.com", "a@x.example,b@x.example"
			}
			v, ok, err := plain.Lookup(context.Background(), k)
			if v != want || !ok || err != nil {
				t.Errorf("concurrent Lookup(%q) = %q %v %v", k, v, ok, err)
			}
		}()
	}
	wg.Wait()

	// A cancelled context fails the lookup without failing the host.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := plain.Lookup(ctx, "joe@example.com"); err == nil {
		t.Error("no error with a cancelled context")
	}
	checkLookups(t, plain, []lookupCase{{"joe@example.com", "joe@home.example", true}})

	// Server stopped: a temporary error, never "not found"; the host is
	// left alone for the retry interval, then used again.
	plain.retry = 200 * time.Millisecond
	c.stop(t)
	for range 2 {
		if v, ok, err := plain.Lookup(context.Background(), "joe@example.com"); err == nil || ok {
			t.Fatalf("server stopped: Lookup = %q %v %v, want an error", v, ok, err)
		}
	}
	c.start(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, ok, err := plain.Lookup(context.Background(), "joe@example.com")
		if err == nil && ok && v == "joe@home.example" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server restarted: Lookup = %q %v %v", v, ok, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPgsqlFailover(t *testing.T) {
	c := startPostgres(t)
	c.sql(t, pgSchema, pgRows[0])
	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	// The UNIX socket is preferred; PGPORT gives its port, as with libpq.
	t.Setenv("PGPORT", strconv.Itoa(c.port))
	cf := writeCF(t, dir, "f.cf", fmt.Sprintf("hosts = 127.0.0.1:%d, unix:%s 127.0.0.1:%d\nuser = mailhorn\ndbname = postgres\nquery = SELECT goto FROM alias WHERE address = '%%s'\n", dead, c.dir, c.port))
	tab, err := OpenWith("pgsql:"+cf, Options{Warn: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	pt := tab.(*pgsqlTable)
	checkLookups(t, pt, []lookupCase{{"joe@example.com", "joe@home.example", true}})
	if pt.hosts[1].pool == nil {
		t.Fatal("the UNIX-domain host was not preferred")
	}
	// Without the socket: the two TCP hosts in random order; the dead
	// one is left alone after its failure.
	cf2 := writeCF(t, dir, "f2.cf", fmt.Sprintf("hosts = 127.0.0.1:%d, 127.0.0.1:%d\nuser = mailhorn\ndbname = postgres\nquery = SELECT goto FROM alias WHERE address = '%%s'\n", dead, c.port))
	for range 5 {
		tab2, err := OpenWith("pgsql:"+cf2, Options{Warn: func(string) {}})
		if err != nil {
			t.Fatal(err)
		}
		checkLookups(t, tab2, []lookupCase{{"joe@example.com", "joe@home.example", true}, {"x", "", false}})
		pt2 := tab2.(*pgsqlTable)
		if pt2.hosts[1].pool == nil || pt2.hosts[0].pool != nil {
			t.Error("the live host is not the active one")
		}
		tab2.Close()
	}
	// No host answers: an error naming the host.
	cf3 := writeCF(t, dir, "f3.cf", fmt.Sprintf("hosts = 127.0.0.1:%d\ndbname = postgres\nquery = SELECT '%%s'\n", dead))
	tab3, err := OpenWith("pgsql:"+cf3, Options{Warn: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer tab3.Close()
	for _, want := range []string{"127.0.0.1:" + strconv.Itoa(dead), "no host available"} {
		if _, ok, err := tab3.Lookup(context.Background(), "k"); err == nil || ok || !strings.Contains(err.Error(), want) {
			t.Errorf("dead host: %v, want %q", err, want)
		}
	}
}

// TestPgsqlPostmapDifferential compares lookups with Postfix's postmap -q
// against the same database.
func TestPgsqlPostmapDifferential(t *testing.T) {
	pm, err := exec.LookPath("postmap")
	if err != nil {
		pm = "/usr/sbin/postmap"
	}
	if _, err := os.Stat("/usr/lib/postfix/postfix-pgsql.so"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("Postfix's pgsql table type is required in CI: apt-get install postfix-pgsql")
		}
		t.Skip("postfix-pgsql not installed: skipping")
	}
	if _, err := os.Stat(pm); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("postmap is required in CI")
		}
		t.Skip("postmap not installed")
	}
	c := startPostgres(t)
	c.sql(t, append([]string{pgSchema}, pgRows...)...)
	dir := t.TempDir()
	conf := filepath.Join(dir, "conf")
	os.Mkdir(conf, 0o755)
	writeCF(t, conf, "main.cf", "compatibility_level = 3.6\n")
	keys := []string{"joe@example.com", "JOE@EXAMPLE.COM", "nobody@example.com", "list@example.com", "bare",
		"null@example.com", "o'brien@example.com", `back\slash@example.com`, "x' OR '1'='1", `x\' OR 1=1 --`,
		"joe@other.example", "@example.com", "joe@third.example", "42"}
	for i, body := range []string{
		"query = SELECT goto FROM alias WHERE address = '%s'\n",
		"query = SELECT goto, extra FROM alias WHERE address = '%s' ORDER BY goto\nresult_format = <%s> for %U\n",
		"query = SELECT goto FROM alias WHERE address = '%u@%d' AND domain = '%2.%1'\ndomain = example.com, other.example\nresult_format = %d\n",
		"select_field = goto\ntable = alias\nwhere_field = address\nadditional_conditions = AND domain = 'example.com'\n",
		"query = SELECT goto FROM alias WHERE address LIKE '%u@%%'\nexpansion_limit = 2\n",
	} {
		cf := writeCF(t, dir, fmt.Sprintf("t%d.cf", i), pgCF(c, body))
		tab, err := OpenWith("pgsql:"+cf, Options{Warn: func(string) {}})
		if err != nil {
			t.Fatal(err)
		}
		// One postmap run per table: keys on stdin, "key<TAB>value"
		// out for each key found.
		cmd := exec.Command(pm, "-c", conf, "-q", "-", "pgsql:"+cf)
		cmd.Stdin = strings.NewReader(strings.Join(keys, "\n") + "\n")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("t%d: postmap: %v %s", i, err, errb.String())
			}
		}
		if strings.Contains(errb.String(), "fatal") {
			t.Fatalf("t%d: postmap: %s", i, errb.String())
		}
		var got []string
		for _, k := range keys {
			v, ok, err := tab.Lookup(context.Background(), k)
			if err != nil {
				t.Errorf("t%d %q: %v", i, k, err)
			}
			if ok {
				got = append(got, k+"\t"+v)
			}
		}
		if i == 0 && !strings.Contains(out.String(), "o'brien@example.com\tob@home.example\nback\\slash@example.com\tbs@home.example\n") {
			t.Errorf("postmap did not find the quoted keys: %q", out.String())
		}
		if want := strings.TrimSuffix(out.String(), "\n"); strings.Join(got, "\n") != want {
			t.Errorf("t%d: postmap -q - gave\n%s\nmailhorn\n%s", i, want, strings.Join(got, "\n"))
		}
		tab.Close()
	}
}

func FuzzPgQuery(f *testing.F) {
	f.Add("SELECT goto FROM alias WHERE address = '%s'")
	f.Add(`SELECT E'a\'%u@%d' || "x%%" || $q$%%$q$ -- %s` + "\n/* /* %d */ */ %1")
	f.Add("SELECT 'it''s %s%%' FROM t WHERE id = %s")
	f.Fuzz(func(t *testing.T, tmpl string) {
		sql, params, err := pgQuery(tmpl)
		if err != nil {
			return
		}
		for _, p := range params {
			if !strings.ContainsRune("sudSUD123456789", rune(p)) {
				t.Fatalf("param %q from %q", p, tmpl)
			}
		}
		for n := 1; n <= len(params); n++ {
			if !strings.Contains(sql, "$"+strconv.Itoa(n)) {
				t.Fatalf("$%d missing from %q (template %q)", n, sql, tmpl)
			}
		}
	})
}

// FuzzPgsqlConfig opens tables from arbitrary .cf files; opening does not
// connect, so no server is needed.
func FuzzPgsqlConfig(f *testing.F) {
	f.Add("hosts = unix:/run/pg inet:h:5433, h2 postgresql://u:p@h3/db\nuser = u\npassword = p\ndbname = d\nquery = SELECT x FROM t WHERE k = '%s'\nresult_format = %s\ndomain = example.com\nexpansion_limit = 1\n")
	f.Add("dbname = d\nselect_function = f\n")
	f.Add("dbname = d\nselect_field = a\ntable = b\nwhere_field = c\nadditional_conditions = and '%s'\n")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, src string) {
		if strings.Contains(src, "domain") && strings.Contains(src, ":") {
			return // a type:table in domain would open files
		}
		p := filepath.Join(dir, "f.cf")
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		tab, err := OpenWith("pgsql:"+p, Options{Warn: func(string) {}})
		if err == nil {
			tab.Close()
		}
	})
}
