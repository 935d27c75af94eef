package maps

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type lookupCase struct {
	key, want string
	found     bool
}

func checkLookups(t *testing.T, tab Table, cases []lookupCase) {
	t.Helper()
	for _, c := range cases {
		v, ok, err := tab.Lookup(context.Background(), c.key)
		if err != nil || ok != c.found || v != c.want {
			t.Errorf("Lookup(%q) = %q %v %v, want %q %v", c.key, v, ok, err, c.want, c.found)
		}
	}
}

func TestLineReader(t *testing.T) {
	in := " orphan\n  more orphan\na b\n# c\n\n  c\n\td\ne\r\n  # x\nf g"
	var warns []string
	lr := NewLineReader(strings.NewReader(in), "f", func(s string) { warns = append(warns, s) })
	var got []string
	for {
		l, err := lr.Next()
		if err == io.EOF {
			break
		}
		got = append(got, l.Text+"@"+strconv.Itoa(l.Lineno))
	}
	want := "a b  c\td@3|e\r@8|f g@10"
	if strings.Join(got, "|") != want {
		t.Errorf("got %q, want %q", strings.Join(got, "|"), want)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "must not start with whitespace") {
		t.Errorf("warnings %q", warns)
	}
}

func TestSplitSpec(t *testing.T) {
	for spec, want := range map[string]string{
		"hash:/etc/x":                 "hash /etc/x",
		"proxy:unix:passwd.byname":    "unix passwd.byname",
		"proxy:proxy:hash:/x":         "hash /x",
		"inline:{a=b, c=d}":           "inline {a=b, c=d}",
		"pipemap:{inline:{a=b}, x:y}": "pipemap {inline:{a=b}, x:y}",
	} {
		typ, name, err := SplitSpec(spec)
		if err != nil || typ+" "+name != want {
			t.Errorf("SplitSpec(%q) = %q %q %v", spec, typ, name, err)
		}
	}
	if _, err := Open("/etc/x"); err == nil {
		t.Error("no error without type")
	}
	if _, err := Open("ldap:/etc/x.cf"); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), `"ldap"`) {
		t.Errorf("unknown type: %v", err)
	}
}

func TestInlineStaticUnionPipe(t *testing.T) {
	open := func(spec string) Table {
		tab, err := Open(spec)
		if err != nil {
			t.Fatalf("Open(%q): %v", spec, err)
		}
		t.Cleanup(func() { tab.Close() })
		return tab
	}
	checkLookups(t, open("inline:{a=b, { C = d e }, F=}"), []lookupCase{
		{"A", "b", true}, {"c", "d e", true}, {"f", "", true}, {"x", "", false}})
	checkLookups(t, open("static:{a b}"), []lookupCase{{"x", "a b", true}})
	checkLookups(t, open("unionmap:{inline:{k=1}, static:2, inline:{a=b}}"), []lookupCase{
		{"k", "1,2", true}, {"a", "2,b", true}})
	checkLookups(t, open("unionmap:{inline:{k=1}, inline:{a=b}}"), []lookupCase{{"z", "", false}})
	checkLookups(t, open("pipemap:{inline:{k=1}, inline:{1=two}}"), []lookupCase{
		{"k", "two", true}, {"x", "", false}})
	for _, bad := range []string{"inline:{}", "inline:{a=b", "inline:{a}", "inline:a=b", "unionmap:{nosuch:x}"} {
		if _, err := Open(bad); err == nil {
			t.Errorf("Open(%q): no error", bad)
		}
	}
	tab := open("unionmap:{inline:{k=1}, fail:x}")
	if _, _, err := tab.Lookup(context.Background(), "k"); err == nil {
		t.Error("unionmap with a failing member: no error")
	}
}

func TestTexthashReload(t *testing.T) {
	p := write(t, "th", "Key value one\nkey dup\n")
	var warns []string
	tab, err := OpenWith("texthash:"+p, Options{Warn: func(s string) { warns = append(warns, s) }})
	if err != nil {
		t.Fatal(err)
	}
	checkLookups(t, tab, []lookupCase{{"KEY", "value one", true}})
	if len(warns) != 1 || !strings.Contains(warns[0], "duplicate entry") {
		t.Errorf("warnings %q", warns)
	}
	os.WriteFile(p, []byte("key changed value\n"), 0o644)
	future := time.Now().Add(time.Minute)
	os.Chtimes(p, future, future)
	checkLookups(t, tab, []lookupCase{{"key", "changed value", true}})
	os.Remove(p)
	if _, _, err := tab.Lookup(context.Background(), "key"); err == nil {
		t.Error("no error once the file is gone")
	}
}

func TestRegexpTable(t *testing.T) {
	p := write(t, "re", `/^(.+)@(example\.com)$/	$2!$1
/^Case$/i	exact-case
/^x$/m	multi
if /^a/
/b$/	a-b
endif
/^(x+)(x*)$/	longest:$1:$2
`)
	tab, err := Open("regexp:" + p)
	if err != nil {
		t.Fatal(err)
	}
	if !IsPattern(tab) {
		t.Error("regexp table is not a pattern table")
	}
	checkLookups(t, tab, []lookupCase{
		{"Joe@EXAMPLE.com", "EXAMPLE.com!Joe", true},
		{"Case", "exact-case", true},
		{"case", "", false},
		{"ab", "a-b", true},
		{"cb", "", false},
		{"xxx", "longest:xxx:", true},
	})
	for _, bad := range []string{`/(a)\1/ backref`, `/a/x basic`, `/(?=a)/ look`} {
		if _, err := Open("regexp:" + write(t, "bad", bad+"\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%s: error %v, want one naming line 1", bad, err)
		}
	}
}

func TestPCRETable(t *testing.T) {
	p := write(t, "pcre", `/^(a+?)(a*)$/	lazy:$1:$2
/^ x y $/x	extended
/^b/A	anchored
/^c.d$/s	no-dotall
/^c.d$/	dotall
/^upper$/i	upper
`)
	tab, err := Open("pcre:" + p)
	if err != nil {
		t.Fatal(err)
	}
	checkLookups(t, tab, []lookupCase{
		{"aaa", "lazy:a:aa", true},
		{"xy", "extended", true},
		{"bz", "anchored", true},
		{"c\nd", "dotall", true},
		{"UPPER", "", false},
		{"upper", "upper", true},
	})
}

func TestCIDRTable(t *testing.T) {
	p := write(t, "cidr", "192.0.2.0/24 v4\n!10.0.0.0/8 not-ten\n2001:db8::/32 v6\n[2001:db8::/32 broken\n")
	var warns []string
	tab, err := OpenWith("cidr:"+p, Options{Warn: func(s string) { warns = append(warns, s) }})
	if err != nil {
		t.Fatal(err)
	}
	checkLookups(t, tab, []lookupCase{
		{"192.0.2.9", "v4", true},
		{"10.1.1.1", "", false},
		{"8.8.8.8", "not-ten", true},
		{"2001:db8::5", "v6", true},
		{"2001:db9::5", "", false},
		{"example.com", "", false},
	})
	if len(warns) != 1 || !strings.Contains(warns[0], "line 4") {
		t.Errorf("warnings %q", warns)
	}
}

func TestSQLiteTable(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "db.sqlite")
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE alias (address TEXT, goto TEXT, domain TEXT)",
		"INSERT INTO alias VALUES ('joe@example.com', 'joe@home.example', 'example.com')",
		"INSERT INTO alias VALUES ('o''brien@example.com', 'ob@home.example', 'example.com')",
		"INSERT INTO alias VALUES ('list@example.com', 'a@x.example', 'example.com')",
		"INSERT INTO alias VALUES ('list@example.com', 'b@x.example', 'example.com')",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	cf := filepath.Join(dir, "alias.cf")
	os.WriteFile(cf, []byte("dbpath = "+dbPath+"\nquery = SELECT goto FROM alias WHERE address = '%s'\n  AND domain = '%d'\ndomain = example.com\n"), 0o644)
	tab, err := Open("sqlite:" + cf)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	checkLookups(t, tab, []lookupCase{
		{"JOE@example.com", "joe@home.example", true},
		{"o'brien@example.com", "ob@home.example", true},
		{"list@example.com", "a@x.example,b@x.example", true},
		{"joe@other.example", "", false},
		{"joe", "", false},
	})
	cf2 := filepath.Join(dir, "fmt.cf")
	os.WriteFile(cf2, []byte("dbpath = "+dbPath+"\nquery = SELECT goto FROM alias WHERE address = '%u@%2.%1'\nresult_format = %u via %D\nexpansion_limit = 1\n"), 0o644)
	tab2, err := Open("sqlite:" + cf2)
	if err != nil {
		t.Fatal(err)
	}
	defer tab2.Close()
	checkLookups(t, tab2, []lookupCase{{"joe@mail.example.com", "joe via mail.example.com", true}})
	if _, _, err := tab2.Lookup(context.Background(), "list@example.com"); err == nil {
		t.Error("expansion_limit exceeded without an error")
	}
	bad := filepath.Join(dir, "bad.cf")
	os.WriteFile(bad, []byte("dbpath = "+dbPath+"\nquery = SELECT %x\n"), 0o644)
	if _, err := Open("sqlite:" + bad); err == nil {
		t.Error("no error for an unknown % sequence in query")
	}
	// The database is opened read-only.
	os.WriteFile(bad, []byte("dbpath = "+dbPath+"\nquery = DELETE FROM alias WHERE address = '%s'\n"), 0o644)
	tab3, err := Open("sqlite:" + bad)
	if err != nil {
		t.Fatal(err)
	}
	defer tab3.Close()
	if _, _, err := tab3.Lookup(context.Background(), "joe@example.com"); err == nil {
		t.Error("a write through the table succeeded")
	}
}

func TestList(t *testing.T) {
	l, err := OpenList([]string{"inline:{a=1}", "inline:{a=2, b=3}"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for k, want := range map[string]string{"a": "1", "b": "3"} {
		if v, ok, err := l.Lookup(context.Background(), k); v != want || !ok || err != nil {
			t.Errorf("Lookup(%q) = %q %v %v", k, v, ok, err)
		}
	}
}
