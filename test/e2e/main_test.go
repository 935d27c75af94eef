// Package e2e runs the real mailhorn binary as a child process and talks to
// it with real clients over loopback (swaks, Python's smtplib, Go's
// net/smtp, raw protocol writes), then checks the Maildirs, the queue and
// the mail log. See docs/testing.md.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
)

// mailhornBin is the binary under test, built once by TestMain.
var mailhornBin string

// runAs is the account the mail system runs as. As root (CI), the child
// process is started as nobody, so that it "runs unprivileged as the
// invoking user" instead of dropping to a mail_owner account the machine
// may lack. Otherwise it is the invoking user.
var runAs struct {
	root     bool
	uid, gid int
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if err := setRunAs(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "mailhorn-e2e-bin-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// The unprivileged child must be able to execute the binary.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if err := searchable(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	mailhornBin = filepath.Join(dir, "mailhorn")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go"
	}
	build := exec.Command(goTool, "build", "-o", mailhornBin, "mailhorn/cmd/mailhorn")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: build mailhorn: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

func setRunAs() error {
	if os.Geteuid() != 0 {
		runAs.uid, runAs.gid = os.Getuid(), os.Getgid()
		return nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return fmt.Errorf("running as root needs the account nobody to run the mail system as: %w", err)
	}
	runAs.root = true
	runAs.uid, _ = strconv.Atoi(u.Uid)
	runAs.gid, _ = strconv.Atoi(u.Gid)
	return nil
}

// needTool finds a real client, or skips, except in CI where `make test`
// installs it (scripts/test-deps.sh) and a skip would hide a failure.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI (scripts/test-deps.sh installs it): %v", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
	}
	return p
}

// heavy marks a test that loads the machine: go test -short skips it.
func heavy(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("load test: skipped with -short")
	}
}
