package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"mailhorn/internal/config/postfixtest"
)

// runMapTest runs mailhorn map in-process.
func runMapTest(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	return runCommand(t, runMap, stdin, append([]string{"-c", t.TempDir()}, args...)...)
}

// needPostfixType skips (fails under CI) when Postfix lacks a table type
// that comes in a separate package (postfix-pcre, postfix-sqlite).
func needPostfixType(t *testing.T, typ string) {
	t.Helper()
	// postconf needs a main.cf to read, even for -m.
	out, err := exec.Command(postfixtest.Tool(t, "postconf"), "-c", postfixConf(t, ""), "-m").Output()
	if err == nil {
		for _, l := range strings.Fields(string(out)) {
			if l == typ {
				return
			}
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("Postfix table type %s is required in CI: install postfix-%s", typ, typ)
	}
	t.Skipf("Postfix table type %s not installed (package postfix-%s): skipping", typ, typ)
}

// runPostmap runs the real postmap with a main.cf of its own at mailhorn's
// default compatibility level (3.6: smtputf8_enable = yes, so keys fold as
// UTF-8).
func runPostmap(t *testing.T, bin, stdin string, args ...string) (string, int) {
	t.Helper()
	return runPostfix(t, bin, postfixConf(t, "compatibility_level = 3.6\n"), stdin, args...)
}

func sortedLines(s string) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	sort.Strings(l)
	return strings.Join(l, "\n")
}

const hashCorpus = `# aliases-like table with the odd cases postmap handles
Foo	bar
foo	duplicate, the first wins
# a comment between a line and its continuation
  continued
key value with  two  spaces
 continued here
	and here
novalue
MiXeD@Example.COM   Mixed@Case.Value
trailing   value with trailing blanks   
h:  colon key
@example.org	catchall
user@	userpart
x	y
    # indented comment

last	v
ÄB@Ö.de	utf8 key
Straße	sharp s
`

var hashKeys = []string{"foo", "FOO", "Foo", "key", "KEY", "novalue", "mixed@example.com",
	"MIXED@EXAMPLE.COM", "trailing", "h:", "@example.org", "user@", "x", "X", "last", "missing", "", "continued",
	"äb@ö.de", "Äb@Ö.de", "ÄB@Ö.DE", "straße", "STRASSE", "strasse"}

func TestMapDifferentialHash(t *testing.T) {
	pm := postfixtest.Tool(t, "postmap")
	theirs, ours := t.TempDir(), t.TempDir()
	srcT := writeFile(t, theirs, "table", hashCorpus)
	srcO := writeFile(t, ours, "table", hashCorpus)
	if _, code := runPostmap(t, pm, "", "hash:"+srcT); code != 0 {
		t.Fatalf("postmap build exit %d", code)
	}
	if _, stderr, code := runMapTest(t, "", "hash:"+srcO); code != 0 {
		t.Fatalf("mailhorn map build exit %d: %s", code, stderr)
	}
	for _, k := range hashKeys {
		if k == "" {
			continue
		}
		want, wcode := runPostmap(t, pm, "", "-q", k, "hash:"+srcT)
		got, _, gcode := runMapTest(t, "", "-q", k, "hash:"+srcO)
		if got != want || gcode != wcode {
			t.Errorf("-q %q: postmap %q exit %d, mailhorn %q exit %d", k, want, wcode, got, gcode)
		}
	}
	keys := strings.Join(hashKeys, "\n") + "\n"
	want, wcode := runPostmap(t, pm, keys, "-q", "-", "hash:"+srcT)
	got, _, gcode := runMapTest(t, keys, "-q", "-", "hash:"+srcO)
	if got != want || gcode != wcode {
		t.Errorf("-q -: postmap %q exit %d, mailhorn %q exit %d", want, wcode, got, gcode)
	}
	// texthash reads the same source without building.
	want, wcode = runPostmap(t, pm, keys, "-q", "-", "texthash:"+srcT)
	got, _, gcode = runMapTest(t, keys, "-q", "-", "texthash:"+srcO)
	if got != want || gcode != wcode {
		t.Errorf("texthash -q -: postmap %q exit %d, mailhorn %q exit %d", want, wcode, got, gcode)
	}
	want, _ = runPostmap(t, pm, "", "-s", "hash:"+srcT)
	got, _, _ = runMapTest(t, "", "-s", "hash:"+srcO)
	if sortedLines(got) != sortedLines(want) {
		t.Errorf("-s differs:\npostmap:\n%s\nmailhorn:\n%s", sortedLines(want), sortedLines(got))
	}
}

const regexpCorpus = `# regexp_table(5) corpus
/^(.*)@Example\.com$/	user=$1 ${1} $$ $(1)
/^x(a)?y$/	[$1]
/^bad1$/	$foo
/^bad2(.)$/	$2
!/^neg$/	$1
/^lit$/i	LIT
/^cs$/i	cs-only-lower
if /^abc/
/d$/	abc-d
if !/^abcx/
/./	abc-not-x
endif
endif
/^two/!/three/	two-not-three
|^pipe\|x|	pipedelim
/^(a+)(b*)$/	a=$1 b=$2
/^(a|ab)(c|bcd)(d*)$/	posix:$1:$2:$3
/^sp ace$/	with space
/^nores$/
/^multi.line$/	dot-matches-newline
`

var regexpKeys = []string{"joe@example.com", "JOE@EXAMPLE.COM", "xy", "xay", "bad1", "bad2a",
	"neg", "lit", "LIT", "cs", "CS", "abcd", "abcxd", "abce", "twofour", "twothree", "pipe|x",
	"aab", "aaa", "b", "abcd", "sp ace", "zzz"}

func TestMapDifferentialRegexp(t *testing.T) {
	pm := postfixtest.Tool(t, "postmap")
	src := writeFile(t, t.TempDir(), "re", regexpCorpus)
	for _, k := range regexpKeys {
		want, wcode := runPostmap(t, pm, "", "-q", k, "regexp:"+src)
		got, stderr, gcode := runMapTest(t, "", "-q", k, "regexp:"+src)
		if got != want || gcode != wcode {
			t.Errorf("-q %q: postmap %q exit %d, mailhorn %q exit %d (%s)", k, want, wcode, got, gcode, stderr)
		}
	}
}

const cidrCorpus = `# cidr_table(5) corpus
192.168.1.1	host
192.168.0.0/16	net16
10.0.0.0/8 ten
10.1.2.3/8 badbits
[192.0.2.0]/24	bracketed
!10.0.0.0/8	not-ten
[2001:db8::1]	v6host
2001:db8::/32	v6net
if 172.16.0.0/12
172.16.5.0/24	inner
endif
0.0.0.0/0	anyv4
::/0 anyv6
300.1.1.1 bad
1.2.3.4/33 badmask
`

var cidrKeys = []string{"192.168.1.1", "192.168.2.2", "10.9.9.9", "192.0.2.55", "172.16.5.9",
	"172.17.0.1", "8.8.8.8", "2001:db8::1", "2001:DB8::1", "[2001:db8::1]", "2001:db9::1",
	"foo", "::ffff:192.168.1.1", "010.1.1.1", "1.2.3", "fe80::1%eth0"}

func TestMapDifferentialCIDR(t *testing.T) {
	pm := postfixtest.Tool(t, "postmap")
	src := writeFile(t, t.TempDir(), "cidr", cidrCorpus)
	for _, k := range cidrKeys {
		want, wcode := runPostmap(t, pm, "", "-q", k, "cidr:"+src)
		got, stderr, gcode := runMapTest(t, "", "-q", k, "cidr:"+src)
		if got != want || gcode != wcode {
			t.Errorf("-q %q: postmap %q exit %d, mailhorn %q exit %d (%s)", k, want, wcode, got, gcode, stderr)
		}
	}
}

func TestMapDifferentialInline(t *testing.T) {
	pm := postfixtest.Tool(t, "postmap")
	cases := []struct{ spec, key string }{
		{"inline:{a=b, { c = d e }, F=G}", "a"},
		{"inline:{a=b, { c = d e }, F=G}", "c"},
		{"inline:{a=b, { c = d e }, F=G}", "f"},
		{"inline:{a=b, { c = d e }, F=G}", "F"},
		{"inline:{a=b, { c = d e }, F=G}", "zz"},
		{"inline:{a=b,c=d}", "c"},
		{"static:{a b}", "x"},
		{"static:ab", "x"},
		{"unionmap:{inline:{zz=1}, static:2, inline:{a=b}}", "zz"},
		{"unionmap:{inline:{zz=1}, inline:{a=b}}", "q"},
		{"pipemap:{inline:{zz=1}, inline:{1=two}}", "zz"},
		{"pipemap:{inline:{zz=1}, inline:{2=two}}", "zz"},
	}
	for _, c := range cases {
		want, wcode := runPostmap(t, pm, "", "-q", c.key, c.spec)
		got, stderr, gcode := runMapTest(t, "", "-q", c.key, c.spec)
		if got != want || gcode != wcode {
			t.Errorf("-q %q %s: postmap %q exit %d, mailhorn %q exit %d (%s)", c.key, c.spec, want, wcode, got, gcode, stderr)
		}
	}
}

func TestMapExitCodes(t *testing.T) {
	dir := t.TempDir()
	src := writeFile(t, dir, "t", "a b\n")
	if _, _, code := runMapTest(t, "", src); code != 0 {
		t.Fatalf("build: exit %d", code)
	}
	if out, _, code := runMapTest(t, "", "-q", "A", src); code != 0 || out != "b\n" {
		t.Errorf("-q A: %q exit %d, want b exit 0", out, code)
	}
	if _, _, code := runMapTest(t, "", "-q", "zz", src); code != 1 {
		t.Errorf("-q zz: exit %d, want 1", code)
	}
	if _, stderr, code := runMapTest(t, "", "-q", "a", "hash:"+filepath.Join(dir, "none")); code != 2 || !strings.Contains(stderr, "mailhorn map: fatal:") {
		t.Errorf("missing table: exit %d %q, want 2 and a fatal message", code, stderr)
	}
	if _, _, code := runMapTest(t, "", "-q", "a", "nosuchtype:x"); code != 2 {
		t.Errorf("unknown type: exit %d, want 2", code)
	}
}

func TestMapIncrementalDeleteReplace(t *testing.T) {
	dir := t.TempDir()
	src := writeFile(t, dir, "t", "a 1\nb 2\n")
	if _, e, code := runMapTest(t, "", src); code != 0 {
		t.Fatal(e)
	}
	if _, e, code := runMapTest(t, "C 3\na other\n", "-i", src); code != 0 || !strings.Contains(e, "duplicate entry") {
		t.Fatalf("-i: exit %d, stderr %q", code, e)
	}
	if _, e, code := runMapTest(t, "a new\n", "-i", "-r", src); code != 0 || e != "" {
		t.Fatalf("-i -r: exit %d, stderr %q", code, e)
	}
	if _, _, code := runMapTest(t, "", "-d", "B", src); code != 0 {
		t.Fatalf("-d B: exit %d", code)
	}
	if _, _, code := runMapTest(t, "", "-d", "B", src); code != 1 {
		t.Fatalf("second -d B: exit %d, want 1", code)
	}
	out, _, _ := runMapTest(t, "", "-s", src)
	if got, want := sortedLines(out), "a\tnew\nc\t3"; got != want {
		t.Errorf("after -i, -r, -d: %q, want %q", got, want)
	}
}

func TestMapNoFold(t *testing.T) {
	dir := t.TempDir()
	src := writeFile(t, dir, "t", "MiXed v\n")
	if _, e, code := runMapTest(t, "", "-f", src); code != 0 {
		t.Fatal(e)
	}
	// Deliberate difference: postmap -q without -f folds the query and
	// misses; the table remembers it was built with -f, so we don't.
	if out, _, code := runMapTest(t, "", "-q", "MiXed", src); code != 0 || out != "v\n" {
		t.Errorf("-q MiXed: %q exit %d", out, code)
	}
	if _, _, code := runMapTest(t, "", "-q", "mixed", src); code != 1 {
		t.Errorf("-q mixed: exit %d, want 1", code)
	}
}

const pcreCorpus = `# pcre_table(5) corpus
/^(a+?)(a*)$/	lazy:$1:$2
/^ x  y $/x	extended
/^b/A	anchored
/^c.d$/s	no-dotall
/^c.d$/	dotall
/^c$/m	multi-c
/^upper$/i	upper
/^(\w+)\.(\d+)$/	word=$1 num=$2
/^first(.*)$/m	multi:$1
!/^neg/	not-neg-but-caught
`

func TestMapDifferentialPCRE(t *testing.T) {
	pm := postfixtest.Tool(t, "postmap")
	needPostfixType(t, "pcre")
	src := writeFile(t, t.TempDir(), "pcre", pcreCorpus)
	for _, k := range []string{"aaa", "xy", "bz", "zb", "c\nd", "cxd", "UPPER", "upper", "foo.42", "first line", "neg", "zzz"} {
		want, wcode := runPostmap(t, pm, "", "-q", k, "pcre:"+src)
		got, stderr, gcode := runMapTest(t, "", "-q", k, "pcre:"+src)
		if got != want || gcode != wcode {
			t.Errorf("-q %q: postmap %q exit %d, mailhorn %q exit %d (%s)", k, want, wcode, got, gcode, stderr)
		}
	}
}

func TestMapDifferentialSQLite(t *testing.T) {
	pm := postfixtest.Tool(t, "postmap")
	needPostfixType(t, "sqlite")
	sqlite, err := exec.LookPath("sqlite3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("sqlite3 is required in CI")
		}
		t.Skip("sqlite3 not installed")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "db.sqlite")
	schema := `CREATE TABLE alias (address TEXT, goto TEXT);
INSERT INTO alias VALUES ('joe@example.com', 'joe@home.example');
INSERT INTO alias VALUES ('o''brien@example.com', 'ob@home.example');
INSERT INTO alias VALUES ('list@example.com', 'a@x.example');
INSERT INTO alias VALUES ('list@example.com', 'b@y.example');
INSERT INTO alias VALUES ('@example.org', 'catch@example.org');`
	if out, err := exec.Command(sqlite, db, schema).CombinedOutput(); err != nil {
		t.Fatalf("sqlite3: %v %s", err, out)
	}
	cfs := map[string]string{
		"plain":  "dbpath = " + db + "\nquery = SELECT goto FROM alias WHERE address = '%s'\n",
		"format": "dbpath = " + db + "\nquery = SELECT goto FROM alias WHERE address = '%u@%d'\nresult_format = %u at %d for %U\n",
		"labels": "dbpath = " + db + "\nquery = SELECT goto FROM alias WHERE address = '%u@%2.%1'\n",
		"domain": "dbpath = " + db + "\nquery = SELECT goto FROM alias WHERE address = '%s'\ndomain = example.com\n",
	}
	keys := []string{"joe@example.com", "JOE@Example.COM", "o'brien@example.com", "list@example.com",
		"@example.org", "nobody@example.com", "joe", "joe@mail.example.com"}
	for name, cf := range cfs {
		p := writeFile(t, dir, name+".cf", cf)
		for _, k := range keys {
			want, wcode := runPostmap(t, pm, "", "-q", k, "sqlite:"+p)
			got, stderr, gcode := runMapTest(t, "", "-q", k, "sqlite:"+p)
			if got != want || gcode != wcode {
				t.Errorf("%s -q %q: postmap %q exit %d, mailhorn %q exit %d (%s)", name, k, want, wcode, got, gcode, stderr)
			}
		}
	}
}
