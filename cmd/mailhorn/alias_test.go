package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"mailhorn/internal/config/postfixtest"
)

// postaliasConf is a main.cf for postalias: the host named (no DNS) and
// compatibility level 3.6 (UTF-8 key folding, as mailhorn does).
func postaliasConf(t *testing.T) string {
	t.Helper()
	return postfixConf(t, "compatibility_level = 3.6\nmyhostname = mail.example.com\n")
}

// TestAliasQueryMatchesPostalias builds each aliases corpus file with both
// postalias and mailhorn alias, then asks both for every stored name, case
// variants of it and names that are not there: one by one with -q key
// (value and exit code) and all at once with -q -.
func TestAliasQueryMatchesPostalias(t *testing.T) {
	bin := postfixtest.Tool(t, "postalias")
	files, err := filepath.Glob("../../internal/aliases/testdata/corpus/*.aliases")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	cf := postaliasConf(t)
	for _, src := range files {
		t.Run(filepath.Base(src), func(t *testing.T) {
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			pf := writeFile(t, dir, "postfix-aliases", string(data))
			mf := writeFile(t, dir, "mailhorn-aliases", string(data))
			if _, code := runPostfix(t, bin, cf, "", "hash:"+pf); code != 0 {
				t.Fatalf("postalias build failed")
			}
			if _, errs, code := runCommand(t, runAlias, "", "-c", t.TempDir(), "hash:"+mf); code != 0 {
				t.Fatalf("mailhorn alias build: %d %s", code, errs)
			}

			// The keys: everything postalias stored, in upper case too,
			// plus a few that are nowhere.
			dump, _ := runPostfix(t, bin, cf, "", "-s", "hash:"+pf)
			keys := []string{"nosuchalias", "@", "Root", "owner-list"}
			for _, l := range strings.Split(dump, "\n") {
				k, _, ok := strings.Cut(l, ":\t")
				if !ok || k == "" || strings.HasPrefix(k, "YP_") || strings.Contains(k, "\n") {
					continue
				}
				keys = append(keys, k, strings.ToUpper(k))
			}
			for _, k := range keys {
				want, wcode := runPostfix(t, bin, cf, "", "-q", k, "hash:"+pf)
				got, errs, gcode := runCommand(t, runAlias, "", "-c", t.TempDir(), "-q", k, "hash:"+mf)
				if got != want || gcode != wcode {
					t.Errorf("-q %q: mailhorn %q (exit %d, %s), postalias %q (exit %d)", k, got, gcode, errs, want, wcode)
				}
			}
			batch := strings.Join(keys, "\n") + "\n"
			want, wcode := runPostfix(t, bin, cf, batch, "-q", "-", "hash:"+pf)
			got, _, gcode := runCommand(t, runAlias, batch, "-c", t.TempDir(), "-q", "-", "hash:"+mf)
			if got != want || gcode != wcode {
				t.Errorf("-q -: mailhorn (exit %d)\n%s\npostalias (exit %d)\n%s", gcode, got, wcode, want)
			}

			// -s lists the same entries (order differs; postalias adds the
			// NIS entries YP_LAST_MODIFIED and YP_MASTER_NAME, and stores
			// the empty name, which mailhorn skips with a warning).
			var wantS []string
			for _, l := range strings.Split(strings.TrimSpace(dump), "\n") {
				if l != "" && !strings.HasPrefix(l, "YP_") && !strings.HasPrefix(l, ":\t") {
					wantS = append(wantS, l)
				}
			}
			gotDump, _, _ := runCommand(t, runAlias, "", "-c", t.TempDir(), "-s", "hash:"+mf)
			gotS := strings.Split(strings.TrimSpace(gotDump), "\n")
			sort.Strings(wantS)
			sort.Strings(gotS)
			if strings.Join(gotS, "\n") != strings.Join(wantS, "\n") {
				t.Errorf("-s differs\nmailhorn:\n%s\npostalias:\n%s", strings.Join(gotS, "\n"), strings.Join(wantS, "\n"))
			}
		})
	}
}

func TestAliasBuildWarnings(t *testing.T) {
	dir := t.TempDir()
	f := writeFile(t, dir, "aliases", "a: b\nbad\nA: c\n\"\": x\n@x: y\n")
	_, errs, code := runCommand(t, runAlias, "", "-c", t.TempDir(), f)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"mailhorn alias: warning: " + f + ", line 2: need name:value pair\n",
		"mailhorn alias: warning: " + f + `, line 3: duplicate entry: "a"` + "\n",
		"mailhorn alias: warning: " + f + ", line 4: empty name is not allowed\n",
		"mailhorn alias: warning: " + f + ", line 5: name must be local\n",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("missing %q in\n%s", want, errs)
		}
	}
	out, _, _ := runCommand(t, runAlias, "", "-c", t.TempDir(), "-q", "a", f)
	if out != "b\n" {
		t.Errorf("first value must win: %q", out)
	}
	// -r: the last one wins, silently.
	_, errs, _ = runCommand(t, runAlias, "", "-c", t.TempDir(), "-r", f)
	out, _, _ = runCommand(t, runAlias, "", "-c", t.TempDir(), "-q", "a", f)
	if out != "c\n" || strings.Contains(errs, "duplicate") {
		t.Errorf("-r: %q %q", out, errs)
	}
	// -w: the first one wins, silently.
	_, errs, _ = runCommand(t, runAlias, "", "-c", t.TempDir(), "-w", f)
	out, _, _ = runCommand(t, runAlias, "", "-c", t.TempDir(), "-q", "a", f)
	if out != "b\n" || strings.Contains(errs, "duplicate") {
		t.Errorf("-w: %q %q", out, errs)
	}
}

func TestAliasNoFold(t *testing.T) {
	dir := t.TempDir()
	f := writeFile(t, dir, "aliases", "MiXed: v\n")
	runCommand(t, runAlias, "", "-c", t.TempDir(), "-f", f)
	for key, want := range map[string]int{"MiXed": 0, "mixed": 1} {
		if _, _, code := runCommand(t, runAlias, "", "-c", t.TempDir(), "-f", "-q", key, f); code != want {
			t.Errorf("-f -q %s: exit %d, want %d", key, code, want)
		}
	}
}

func TestAliasIncrementalAndDelete(t *testing.T) {
	dir := t.TempDir()
	f := writeFile(t, dir, "aliases", "a: b\n")
	cf := t.TempDir()
	runCommand(t, runAlias, "", "-c", cf, f)
	_, errs, code := runCommand(t, runAlias, "c: d\na: other\n", "-c", cf, "-i", f)
	if code != 0 || !strings.Contains(errs, `stdin, line 2: duplicate entry: "a"`) {
		t.Fatalf("-i: exit %d %q", code, errs)
	}
	for key, want := range map[string]string{"a": "b\n", "c": "d\n", "@": "@\n"} {
		if out, _, _ := runCommand(t, runAlias, "", "-c", cf, "-q", key, f); out != want {
			t.Errorf("after -i, -q %s = %q, want %q", key, out, want)
		}
	}
	if _, _, code := runCommand(t, runAlias, "", "-c", cf, "-d", "A", f); code != 0 {
		t.Errorf("-d A: exit %d", code)
	}
	if _, _, code := runCommand(t, runAlias, "", "-c", cf, "-q", "a", f); code != 1 {
		t.Errorf("-q a after -d: exit %d", code)
	}
	if _, _, code := runCommand(t, runAlias, "", "-c", cf, "-d", "a", f); code != 1 {
		t.Errorf("second -d a: exit %d, want 1", code)
	}
}

func TestAliasErrors(t *testing.T) {
	dir := t.TempDir()
	_, errs, code := runCommand(t, runAlias, "", "-c", t.TempDir(), filepath.Join(dir, "missing"))
	if code != 2 || !strings.HasPrefix(errs, "mailhorn alias: fatal: open "+filepath.Join(dir, "missing")) {
		t.Errorf("missing source: exit %d %q", code, errs)
	}
	_, errs, code = runCommand(t, runAlias, "", "-c", t.TempDir(), "-q", "x", filepath.Join(dir, "missing"))
	if code != 2 || !strings.Contains(errs, "fatal") {
		t.Errorf("missing table: exit %d %q", code, errs)
	}
	if _, errs, code = runCommand(t, runAlias, "", "-c", t.TempDir()); code != 2 || !strings.Contains(errs, "usage") {
		t.Errorf("no table: exit %d %q", code, errs)
	}
}

func TestNewaliases(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "aliases", "root: admin\n")
	b := writeFile(t, dir, "more", "list: x, y\n")
	cf := t.TempDir()
	writeFile(t, cf, "main.cf", "alias_database = hash:"+a+", "+b+"\n")
	if _, errs, code := runCommand(t, runNewaliases, "", "-c", cf); code != 0 {
		t.Fatalf("newaliases: exit %d %s", code, errs)
	}
	if out, _, _ := runCommand(t, runAlias, "", "-c", cf, "-q", "root", "hash:"+a); out != "admin\n" {
		t.Errorf("root: %q", out)
	}
	if out, _, _ := runCommand(t, runAlias, "", "-c", cf, "-q", "list", b); out != "x, y\n" {
		t.Errorf("list: %q", out)
	}
	// The multi-call name and MAILHORN_CONFIG_DIR.
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string {
		if k == "MAILHORN_CONFIG_DIR" {
			return cf
		}
		return ""
	}}
	if code := dispatch(context.Background(), e, "newaliases", nil); code != 0 {
		t.Errorf("newaliases via argv0: exit %d %s", code, errb.String())
	}
	if _, _, code := runCommand(t, runNewaliases, "", "-c", cf, "extra"); code != 2 {
		t.Errorf("newaliases with an argument: exit %d", code)
	}
}
