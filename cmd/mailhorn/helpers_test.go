package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runCommand runs a subcommand in-process with stdin and an empty
// environment, and returns stdout, stderr and the exit status.
func runCommand(t *testing.T, run func(context.Context, *env, []string) int, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	code := run(context.Background(), e, args)
	return out.String(), errb.String(), code
}

// postfixConf writes mainCF as the main.cf of a new directory for the
// Postfix reference tools, with an old mtime (Postfix waits while main.cf
// looks freshly edited).
func postfixConf(t *testing.T, mainCF string) string {
	t.Helper()
	cf := t.TempDir()
	p := filepath.Join(cf, "main.cf")
	if err := os.WriteFile(p, []byte(mainCF), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	return cf
}

// runPostfix runs a Postfix reference tool (bin) with -c cf and returns
// its stdout and exit status.
func runPostfix(t *testing.T, bin, cf, stdin string, args ...string) (string, int) {
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
		t.Fatalf("%s: %v", filepath.Base(bin), err)
	}
	return out.String(), code
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
