package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// runAliasTest runs mailhorn alias (or newaliases) in-process with an empty
// configuration directory unless args name one.
func runAliasTest(t *testing.T, run func(context.Context, *env, []string) int, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	code := run(context.Background(), e, args)
	return out.String(), errb.String(), code
}

// postaliasBin finds the reference postalias, skipping the test when
// Postfix is not installed (failing under CI, where make test installs it).
func postaliasBin(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("postalias")
	if err != nil {
		if p, err = exec.LookPath("/usr/sbin/postalias"); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("postalias (Postfix) is required in CI: install the postfix package")
			}
			t.Skip("postalias (Postfix) not installed: skipping the differential test")
		}
	}
	return p
}

// postaliasConf writes a main.cf for postalias: the host named (no DNS),
// compatibility level 3.6 (UTF-8 key folding, as mailhorn does) and an old
// mtime (Postfix waits while main.cf looks freshly edited).
func postaliasConf(t *testing.T) string {
	t.Helper()
	cf := t.TempDir()
	p := filepath.Join(cf, "main.cf")
	if err := os.WriteFile(p, []byte("compatibility_level = 3.6\nmyhostname = mail.example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	return cf
}

func runPostaliasCmd(t *testing.T, bin, cf, stdin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-c", cf}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("postalias: %v", err)
	}
	return out.String(), code
}

// TestAliasQueryMatchesPostalias builds each aliases corpus file with both
// postalias and mailhorn alias, then asks both for every stored name, case
// variants of it and names that are not there: one by one with -q key
// (value and exit code) and all at once with -q -.
func TestAliasQueryMatchesPostalias(t *testing.T) {
	bin := postaliasBin(t)
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
			if _, code := runPostaliasCmd(t, bin, cf, "", "hash:"+pf); code != 0 {
				t.Fatalf("postalias build failed")
			}
			if _, errs, code := runAliasTest(t, runAlias, "", "-c", t.TempDir(), "hash:"+mf); code != 0 {
				t.Fatalf("mailhorn alias build: %d %s", code, errs)
			}

			// The keys: everything postalias stored, in upper case too,
			// plus a few that are nowhere.
			dump, _ := runPostaliasCmd(t, bin, cf, "", "-s", "hash:"+pf)
			keys := []string{"nosuchalias", "@", "Root", "owner-list"}
			for _, l := range strings.Split(dump, "\n") {
				k, _, ok := strings.Cut(l, ":\t")
				if !ok || k == "" || strings.HasPrefix(k, "YP_") || strings.Contains(k, "\n") {
					continue
				}
				keys = append(keys, k, strings.ToUpper(k))
			}
			for _, k := range keys {
				want, wcode := runPostaliasCmd(t, bin, cf, "", "-q", k, "hash:"+pf)
				got, errs, gcode := runAliasTest(t, runAlias, "", "-c", t.TempDir(), "-q", k, "hash:"+mf)
				if got != want || gcode != wcode {
					t.Errorf("-q %q: mailhorn %q (exit %d, %s), postalias %q (exit %d)", k, got, gcode, errs, want, wcode)
				}
			}
			batch := strings.Join(keys, "\n") + "\n"
			want, wcode := runPostaliasCmd(t, bin, cf, batch, "-q", "-", "hash:"+pf)
			got, _, gcode := runAliasTest(t, runAlias, batch, "-c", t.TempDir(), "-q", "-", "hash:"+mf)
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
			gotDump, _, _ := runAliasTest(t, runAlias, "", "-c", t.TempDir(), "-s", "hash:"+mf)
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
	_, errs, code := runAliasTest(t, runAlias, "", "-c", t.TempDir(), f)
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
	out, _, _ := runAliasTest(t, runAlias, "", "-c", t.TempDir(), "-q", "a", f)
	if out != "b\n" {
		t.Errorf("first value must win: %q", out)
	}
	// -r: the last one wins, silently.
	_, errs, _ = runAliasTest(t, runAlias, "", "-c", t.TempDir(), "-r", f)
	out, _, _ = runAliasTest(t, runAlias, "", "-c", t.TempDir(), "-q", "a", f)
	if out != "c\n" || strings.Contains(errs, "duplicate") {
		t.Errorf("-r: %q %q", out, errs)
	}
	// -w: the first one wins, silently.
	_, errs, _ = runAliasTest(t, runAlias, "", "-c", t.TempDir(), "-w", f)
	out, _, _ = runAliasTest(t, runAlias, "", "-c", t.TempDir(), "-q", "a", f)
	if out != "b\n" || strings.Contains(errs, "duplicate") {
		t.Errorf("-w: %q %q", out, errs)
	}
}

func TestAliasNoFold(t *testing.T) {
	dir := t.TempDir()
	f := writeFile(t, dir, "aliases", "MiXed: v\n")
	runAliasTest(t, runAlias, "", "-c", t.TempDir(), "-f", f)
	for key, want := range map[string]int{"MiXed": 0, "mixed": 1} {
		if _, _, code := runAliasTest(t, runAlias, "", "-c", t.TempDir(), "-f", "-q", key, f); code != want {
			t.Errorf("-f -q %s: exit %d, want %d", key, code, want)
		}
	}
}

func TestAliasIncrementalAndDelete(t *testing.T) {
	dir := t.TempDir()
	f := writeFile(t, dir, "aliases", "a: b\n")
	cf := t.TempDir()
	runAliasTest(t, runAlias, "", "-c", cf, f)
	_, errs, code := runAliasTest(t, runAlias, "c: d\na: other\n", "-c", cf, "-i", f)
	if code != 0 || !strings.Contains(errs, `stdin, line 2: duplicate entry: "a"`) {
		t.Fatalf("-i: exit %d %q", code, errs)
	}
	for key, want := range map[string]string{"a": "b\n", "c": "d\n", "@": "@\n"} {
		if out, _, _ := runAliasTest(t, runAlias, "", "-c", cf, "-q", key, f); out != want {
			t.Errorf("after -i, -q %s = %q, want %q", key, out, want)
		}
	}
	if _, _, code := runAliasTest(t, runAlias, "", "-c", cf, "-d", "A", f); code != 0 {
		t.Errorf("-d A: exit %d", code)
	}
	if _, _, code := runAliasTest(t, runAlias, "", "-c", cf, "-q", "a", f); code != 1 {
		t.Errorf("-q a after -d: exit %d", code)
	}
	if _, _, code := runAliasTest(t, runAlias, "", "-c", cf, "-d", "a", f); code != 1 {
		t.Errorf("second -d a: exit %d, want 1", code)
	}
}

func TestAliasErrors(t *testing.T) {
	dir := t.TempDir()
	_, errs, code := runAliasTest(t, runAlias, "", "-c", t.TempDir(), filepath.Join(dir, "missing"))
	if code != 2 || !strings.HasPrefix(errs, "mailhorn alias: fatal: open "+filepath.Join(dir, "missing")) {
		t.Errorf("missing source: exit %d %q", code, errs)
	}
	_, errs, code = runAliasTest(t, runAlias, "", "-c", t.TempDir(), "-q", "x", filepath.Join(dir, "missing"))
	if code != 2 || !strings.Contains(errs, "fatal") {
		t.Errorf("missing table: exit %d %q", code, errs)
	}
	if _, errs, code = runAliasTest(t, runAlias, "", "-c", t.TempDir()); code != 2 || !strings.Contains(errs, "usage") {
		t.Errorf("no table: exit %d %q", code, errs)
	}
}

func TestNewaliases(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "aliases", "root: admin\n")
	b := writeFile(t, dir, "more", "list: x, y\n")
	cf := t.TempDir()
	writeFile(t, cf, "main.cf", "alias_database = hash:"+a+", "+b+"\n")
	if _, errs, code := runAliasTest(t, runNewaliases, "", "-c", cf); code != 0 {
		t.Fatalf("newaliases: exit %d %s", code, errs)
	}
	if out, _, _ := runAliasTest(t, runAlias, "", "-c", cf, "-q", "root", "hash:"+a); out != "admin\n" {
		t.Errorf("root: %q", out)
	}
	if out, _, _ := runAliasTest(t, runAlias, "", "-c", cf, "-q", "list", b); out != "x, y\n" {
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
	if _, _, code := runAliasTest(t, runNewaliases, "", "-c", cf, "extra"); code != 2 {
		t.Errorf("newaliases with an argument: exit %d", code)
	}
}
