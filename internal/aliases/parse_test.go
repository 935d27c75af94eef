package aliases

import (
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

func TestParseEntry(t *testing.T) {
	// Expected values are what postalias 3.7 stores (postalias -s).
	tests := []struct {
		in, name, value, msg string
	}{
		{in: "root: admin, bob", name: "root", value: "admin, bob"},
		{in: "Admin: alice@example.com,  carol\tdave   ,   eve", name: "Admin", value: "alice@example.com, carol dave, eve"},
		{in: `"foo bar": x`, name: "foo bar", value: "x"},
		{in: `"a:b": y`, name: "a:b", value: "y"},
		{in: `c"d":e: z`, name: "c d", value: "e:z"},
		{in: `\q: r`, name: "q", value: "r"},
		{in: `q\ r: v`, name: "q r", value: "v"},
		{in: `pipe: "|/usr/bin/foo bar", |/bin/baz`, name: "pipe", value: `"|/usr/bin/foo bar", |/bin/baz`},
		{in: "inc: :include:/etc/x", name: "inc", value: ":include:/etc/x"},
		{in: "x: a,", name: "x", value: "a, "},
		{in: "y: ,a", name: "y", value: ", a"},
		{in: `z: ""`, name: "z", value: `""`},
		{in: `t: \root, \"x y"`, name: "t", value: `root, "\"x" y ""`},
		{in: `u: a\ b, a\,b`, name: "u", value: `"a b", "a,b"`},
		{in: `k: "a\\b" "c\"d" a\"b [x\]y]`, name: "k", value: `"a\\b" "c\"d" "a\"b" [x]y]`},
		{in: `l: <a@b>, "Joe" <j@x>, group: a, b;`, name: "l", value: `<a@b>, "Joe" <j@x>, group:a, b;`},
		{in: "m: a.b.c@d.e, a . b", name: "m", value: "a.b.c@d.e, a.b"},
		{in: "r: \"x\t\tz\" , \"\" , (com ment) foo (c2)", name: "r", value: `"x  z", "", (com ment) foo (c2)`},
		{in: "a (cmt) : y", name: "a (cmt)", value: "y"},
		{in: `o: \ `, name: "o", value: `" "`},
		{in: "v: a\vb, c\x7fd", name: "v", value: "\"a\vb\", \"c\x7fd\""},
		{in: "bad", msg: "need name:value pair"},
		{in: "A, B: c", msg: "need name:value pair"},
		{in: "w: ", msg: "need name:value pair"},
		{in: ": x", msg: "need name:value pair"},
		{in: "@x: y", msg: "name must be local"},
		{in: "v%w: z", msg: "name must be local"},
		{in: `"a@b": x`, name: "a@b", value: "x"},
	}
	for _, tc := range tests {
		e, msg := parseEntry(tc.in)
		if msg != tc.msg {
			t.Errorf("parseEntry(%q) message %q, want %q", tc.in, msg, tc.msg)
			continue
		}
		if msg != "" {
			continue
		}
		if e.Name != tc.name || e.Value != tc.value {
			t.Errorf("parseEntry(%q) = %q: %q, want %q: %q", tc.in, e.Name, e.Value, tc.name, tc.value)
		}
	}
}

func TestParseLines(t *testing.T) {
	in := "\n# c\n\nbad1\n  \t\n#x\n bad1cont\nok: a\n\n # between\n b\n\tc\n lead\nnext: x\n"
	entries, problems, err := Parse(strings.NewReader(in), "f", ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name+"="+e.Value)
	}
	if want := []string{"ok=a b c lead", "next=x"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("entries %q, want %q", got, want)
	}
	if len(problems) != 1 || problems[0].Error() != "f, line 4: need name:value pair" {
		t.Errorf("problems %v", problems)
	}
	if entries[0].Line != 8 || entries[1].Line != 14 {
		t.Errorf("lines %d %d, want 8 14", entries[0].Line, entries[1].Line)
	}

	// Text before the first name: Postfix drops the logical line with a
	// warning (without a line number; ours has one).
	_, problems, _ = Parse(strings.NewReader(" lead: x\n more\nok: y\n"), "g", ParseOptions{})
	if len(problems) != 1 || !strings.HasPrefix(problems[0].Error(), "g, line 1: logical line must not start with whitespace") {
		t.Errorf("problems %v", problems)
	}
}

func TestParseFold(t *testing.T) {
	in := "MiXeD: MiXeD@Example.COM\n\xc3\x84X: y\n"
	e, _, _ := Parse(strings.NewReader(in), "f", ParseOptions{})
	if e[0].Name != "mixed" || e[0].Value != "MiXeD@Example.COM" || e[1].Name != "\xc3\xa4x" {
		t.Errorf("folded %+v", e)
	}
	e, _, _ = Parse(strings.NewReader(in), "f", ParseOptions{NoFold: true})
	if e[0].Name != "MiXeD" {
		t.Errorf("unfolded %+v", e)
	}
}

func TestDedup(t *testing.T) {
	in := []Entry{{"a", "1", 1}, {"b", "2", 2}, {"a", "3", 3}}
	for _, tc := range []struct {
		mode     DupMode
		want     string
		problems int
	}{
		{DupWarn, "a=1 b=2", 1},
		{DupIgnore, "a=1 b=2", 0},
		{DupReplace, "a=3 b=2", 0},
	} {
		out, problems := Dedup(in, "f", tc.mode)
		var got []string
		for _, e := range out {
			got = append(got, e.Name+"="+e.Value)
		}
		if strings.Join(got, " ") != tc.want || len(problems) != tc.problems {
			t.Errorf("mode %d: %q %v", tc.mode, got, problems)
		}
	}
	_, problems := Dedup(in, "f", DupWarn)
	if problems[0].Error() != `f, line 3: duplicate entry: "a"` {
		t.Errorf("message %q", problems[0])
	}
}

var postaliasWarning = regexp.MustCompile(`^postalias: warning: .*, (line \d+: .*)$`)

// TestParseMatchesPostalias builds every corpus file with postalias and
// compares its stored entries (postalias -s) and its per-line warnings with
// Parse + Dedup. postalias also stores YP_LAST_MODIFIED and YP_MASTER_NAME
// (NIS, which mailhorn lacks); those are left out of the comparison.
func TestParseMatchesPostalias(t *testing.T) {
	bin := postalias(t)
	files, err := filepath.Glob("testdata/corpus/*.aliases")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	for _, src := range files {
		t.Run(filepath.Base(src), func(t *testing.T) {
			dir := t.TempDir()
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, "aliases")
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, stderr, code := runPostalias(t, bin, dir, "hash:"+file)
			if code != 0 {
				t.Fatalf("postalias failed: %s", stderr)
			}
			out, _, _ := runPostalias(t, bin, dir, "-s", "hash:"+file)
			var want []string
			for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				if l != "" && !strings.HasPrefix(l, "YP_") {
					want = append(want, l)
				}
			}
			var wantWarn []string
			for _, l := range strings.Split(stderr, "\n") {
				if m := postaliasWarning.FindStringSubmatch(l); m != nil {
					wantWarn = append(wantWarn, m[1])
				}
			}

			entries, problems, err := Parse(strings.NewReader(string(data)), file, ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			entries, dups := Dedup(entries, file, DupWarn)
			got := []string{"@:\t@"}
			for _, e := range entries {
				got = append(got, e.Name+":\t"+e.Value)
			}
			var gotWarn []string
			for _, p := range problems {
				if !strings.HasPrefix(p.Msg, "logical line must not") {
					gotWarn = append(gotWarn, strings.TrimPrefix(p.Error(), file+", "))
				}
			}
			sort.Strings(want)
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("entries differ\nmailhorn:\n%s\npostalias:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if strings.Join(gotWarn, "\n") != strings.Join(wantWarn, "\n") {
				t.Errorf("warnings differ\nmailhorn:\n%s\npostalias:\n%s", strings.Join(gotWarn, "\n"), strings.Join(wantWarn, "\n"))
			}
			if n := strings.Count(stderr, "duplicate entry"); n != len(dups) {
				t.Errorf("%d duplicates, postalias found %d", len(dups), n)
			}
		})
	}
}

// TestParseRandomMatchesPostalias compares Parse with postalias on
// generated files made of the characters that matter to the tokenizer
// (fixed seed, so failures reproduce).
func TestParseRandomMatchesPostalias(t *testing.T) {
	bin := postalias(t)
	r := rand.New(rand.NewSource(1))
	pieces := []string{"a", "B", "x", ":", ",", " ", "\t", "\"", "\\", "(", ")", "<", ">", "@", "%", "!", "|", ";", ".", "[", "]", "\n", "\n ", "\n#", "#", "\r", "é", "\x01", "\v", "\f", ":include:", "/"}
	for n := 0; n < 100; n++ {
		var b strings.Builder
		for i := 0; i < 30; i++ {
			b.WriteString("k" + string(rune('a'+r.Intn(26))) + ": ")
			for j := 0; j < r.Intn(25); j++ {
				b.WriteString(pieces[r.Intn(len(pieces))])
			}
			b.WriteString("\n")
		}
		data := b.String()
		dir := t.TempDir()
		file := filepath.Join(dir, "aliases")
		if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		_, stderr, code := runPostalias(t, bin, dir, "hash:"+file)
		if code != 0 {
			t.Fatalf("postalias: %s", stderr)
		}
		out, _, _ := runPostalias(t, bin, dir, "-s", "hash:"+file)
		var want []string
		for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			if l != "" && !strings.HasPrefix(l, "YP_") {
				want = append(want, l)
			}
		}
		entries, _, _ := Parse(strings.NewReader(data), file, ParseOptions{})
		entries, _ = Dedup(entries, file, DupWarn)
		got := []string{"@:\t@"}
		for _, e := range entries {
			got = append(got, e.Name+":\t"+e.Value)
		}
		sort.Strings(want)
		sort.Strings(got)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			for i := 0; i < len(got) || i < len(want); i++ {
				var g, w string
				if i < len(got) {
					g = got[i]
				}
				if i < len(want) {
					w = want[i]
				}
				if g != w {
					t.Fatalf("input %q\nfirst diff:\n got %q\nwant %q", data, g, w)
				}
			}
		}
	}
}
