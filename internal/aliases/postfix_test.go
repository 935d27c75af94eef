package aliases

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// postalias finds Postfix's postalias for differential tests. Without it the
// test is skipped, except in CI (CI non-empty), where make test installs
// Postfix and a missing binary is a failure.
func postalias(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("postalias")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/postalias"); err2 == nil {
			return "/usr/sbin/postalias"
		}
		if os.Getenv("CI") != "" {
			t.Fatalf("postalias not found and CI is set: %v", err)
		}
		t.Skip("postalias (Postfix) not installed: skipping differential test")
	}
	return p
}

// runPostalias runs postalias with a private, empty configuration directory
// (postalias refuses to run without main.cf) and returns its output.
// postalias runs with the environment of the test, MAIL_CONFIG aside.
func runPostalias(t *testing.T, bin, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cf := filepath.Join(dir, "postfix-cf")
	if err := os.MkdirAll(cf, 0o755); err != nil {
		t.Fatal(err)
	}
	// Naming the host keeps postalias from resolving it. Compatibility
	// level 3.6 turns on smtputf8_enable, so keys are folded as UTF-8,
	// which is what mailhorn does.
	mainCf := "compatibility_level = 3.6\nmyhostname = mail.example.com\nmydomain = example.com\n"
	if err := os.WriteFile(filepath.Join(cf, "main.cf"), []byte(mainCf), 0o644); err != nil {
		t.Fatal(err)
	}
	// Postfix waits while main.cf looks freshly written (being edited).
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(cf, "main.cf"), old, old); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"-c", cf}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run postalias: %v", err)
	}
	return out.String(), errb.String(), code
}
