package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestUserCommand(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "users")
	header := "# virtual users\n\n  # keep me, spaces and all  \nkeep@example.com:{PLAIN}k:1:1::/h::   \n"
	if err := os.WriteFile(file, []byte(header), 0o600); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "main.cf"), []byte("auth_user_maps = passwd-file:"+file+"\n"), 0o644)
	user := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		return runCommand(t, runUser, stdin, append(args, "-c", dir)...)
	}
	read := func() string {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	if _, errs, code := user("pw1\n", "add", "alice@example.com", "-s", "SHA512-CRYPT", "-u", "1000", "-g", "1000", "-d", "/home/alice", "-e", "userdb_quota_rule=*:storage=1G"); code != 0 {
		t.Fatalf("add: %d %s", code, errs)
	}
	want := regexp.MustCompile(`^` + regexp.QuoteMeta(header) + `alice@example\.com:\{SHA512-CRYPT\}\$6\$[^:]+:1000:1000::/home/alice::userdb_quota_rule=\*:storage=1G\n$`)
	if got := read(); !want.MatchString(got) {
		t.Fatalf("after add:\n%s", got)
	}
	if _, errs, code := user("pw\n", "add", "ALICE@example.com", "-s", "PLAIN"); code != 2 || !strings.Contains(errs, "already exists") {
		t.Errorf("duplicate add: %d %s", code, errs)
	}
	if _, errs, code := user("", "add", "bob", "-p", "{PLAIN}bobpw"); code != 0 {
		t.Errorf("add -p: %d %s", code, errs)
	}
	if _, errs, code := user("", "add", "carol", "-p", "cleartext"); code != 2 || !strings.Contains(errs, "never from an argument") {
		t.Errorf("add -p cleartext: %d %s", code, errs)
	}
	if _, errs, code := user("", "add", "carol", "-p", "{MD5}x"); code != 2 || !strings.Contains(errs, "unsupported") {
		t.Errorf("add -p {MD5}: %d %s", code, errs)
	}
	if _, _, code := user("x\n", "add", "bad:name", "-s", "PLAIN"); code != 2 {
		t.Errorf("bad name: %d", code)
	}
	if out, _, code := user("", "list"); code != 0 || out != "keep@example.com\nalice@example.com\nbob\n" {
		t.Errorf("list: %d %q", code, out)
	}
	for _, c := range []struct {
		name, pw string
		code     int
	}{{"alice@example.com", "pw1", 0}, {"Alice@Example.com", "pw1", 0}, {"alice@example.com", "pw2", 1}, {"nobody", "pw1", 1}, {"bob", "bobpw", 0}} {
		if _, errs, code := user(c.pw+"\n", "check", c.name); code != c.code {
			t.Errorf("check %s %s: %d, want %d (%s)", c.name, c.pw, code, c.code, errs)
		}
	}
	before := read()
	if _, errs, code := user("pw2\n", "passwd", "alice@example.com", "-s", "SHA256-CRYPT"); code != 0 {
		t.Fatalf("passwd: %d %s", code, errs)
	}
	after := read()
	if _, _, code := user("pw2\n", "check", "alice@example.com"); code != 0 {
		t.Errorf("check after passwd: %d", code)
	}
	// Only alice's password field changed.
	re := regexp.MustCompile(`(?m)^(alice@example\.com:)[^:]*`)
	if re.ReplaceAllString(before, "$1X") != re.ReplaceAllString(after, "$1X") || !strings.Contains(after, "alice@example.com:{SHA256-CRYPT}$5$") {
		t.Errorf("passwd changed more than the hash:\n%s\n---\n%s", before, after)
	}
	if _, errs, code := user("x\n", "passwd", "nobody", "-s", "PLAIN"); code != 1 {
		t.Errorf("passwd nobody: %d %s", code, errs)
	}
	if _, errs, code := user("", "del", "bob"); code != 0 {
		t.Fatalf("del: %d %s", code, errs)
	}
	if got := read(); got != strings.Replace(after, "bob:{PLAIN}bobpw::::::\n", "", 1) || strings.Contains(got, "bob") {
		t.Errorf("after del:\n%s", got)
	}
	if _, _, code := user("", "del", "bob"); code != 1 {
		t.Errorf("del again: %d", code)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600 kept", fi.Mode())
	}
	if out, _, code := user("x\n", "hash", "-s", "PLAIN"); code != 0 || out != "{PLAIN}x\n" {
		t.Errorf("hash: %d %q", code, out)
	}
	if out, _, code := user("x\n", "hash", "-s", "ARGON2ID"); code != 0 || !strings.HasPrefix(out, "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Errorf("hash: %d %q", code, out)
	}
	// -f names another file, created 0640 on first add.
	other := filepath.Join(dir, "other")
	if _, errs, code := user("x\n", "add", "dora", "-f", other, "-s", "PLAIN"); code != 0 {
		t.Fatalf("add -f: %d %s", code, errs)
	}
	if b, _ := os.ReadFile(other); string(b) != "dora:{PLAIN}x::::::\n" {
		t.Errorf("new file: %q", b)
	}
	if _, _, code := user("", "frobnicate"); code != 2 {
		t.Errorf("unknown verb: %d", code)
	}
}
