// Package postfixtest helps differential tests that compare mailhorn with
// the Postfix reference tools (postconf, postmap, postalias).
package postfixtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Tool returns the path of a Postfix command (postconf, postmap, ...). When
// it is missing the test is skipped, except in CI (CI set), where `make
// test` installs Postfix first and a missing tool is a failure.
func Tool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := "/usr/sbin/" + name; fileExists(p) {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found; CI must install Postfix (apt-get install postfix)", name)
	}
	t.Skipf("%s not found: install Postfix (apt-get install postfix) to run this differential test", name)
	return ""
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// MasterCF returns the text of the installed Postfix master.cf
// (/etc/postfix/master.cf), skipping the test (failing in CI) without it.
func MasterCF(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile("/etc/postfix/master.cf")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Postfix master.cf: %v; CI must install Postfix", err)
		}
		t.Skipf("Postfix master.cf: %v: install Postfix to run this differential test", err)
	}
	return string(data)
}

// Prelude is prepended to every corpus main.cf: it sets, for both Postfix
// and mailhorn, the parameters whose defaults differ on purpose, so that
// everything else can be compared.
const Prelude = "compatibility_level = 3.6\nmail_name = Postfix\nsyslog_name = postfix\nalias_maps = hash:/etc/aliases\n"

// Corpus returns the main.cf files of testdata/config/maincf, by file
// name, each with Prelude in front. root is the path of the repository root
// from the test's directory ("../..").
func Corpus(t testing.TB, root string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "testdata/config/maincf/*.cf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no main.cf corpus under %s: %v", root, err)
	}
	out := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = Prelude + string(data)
	}
	return out
}
