package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemo runs the README's first command, `mailhorn demo`, on free ports
// and uses it as the README says: mail from the world on the SMTP port,
// mail from the demo users through both submission ports with swaks.
func TestDemo(t *testing.T) {
	swaks := needTool(t, "swaks")
	base, err := os.MkdirTemp("", "mailhorn-e2e-demo-*")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(base, runAs.uid, runAs.gid); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "demo")
	smtp, sub, smtps, imap, pop3 := freePort(t), freePort(t), freePort(t), freePort(t), freePort(t)
	cmd := exec.Command(mailhornBin, "demo", "-dir", dir, "-port", strconv.Itoa(smtp),
		"-submission-port", strconv.Itoa(sub), "-smtps-port", strconv.Itoa(smtps),
		"-imap-port", strconv.Itoa(imap), "-pop3-port", strconv.Itoa(pop3))
	if runAs.root {
		// As root the demo would create and drop to a mailhorn account;
		// here it runs as the unprivileged test account instead.
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: uint32(runAs.uid), Gid: uint32(runAs.gid), Groups: []uint32{}},
		}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("demo exit after Ctrl-C: %v\n%s", err, stderr.String())
			}
		case <-time.After(patience):
			cmd.Process.Kill()
			t.Errorf("demo did not stop on Ctrl-C")
		}
	}()
	banner := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "users: ") {
				banner <- b.String()
			}
		}
		close(banner)
	}()
	var text string
	select {
	case text = <-banner:
	case <-time.After(patience):
		t.Fatalf("no banner from the demo; stderr:\n%s", stderr.String())
	}
	if text == "" {
		t.Fatalf("demo exited: stderr:\n%s", stderr.String())
	}
	for _, want := range []string{"alice@example.test password alice-demo-password", "127.0.0.1:" + strconv.Itoa(sub), "127.0.0.1:" + strconv.Itoa(smtps), "swaks --server 127.0.0.1:" + strconv.Itoa(smtp)} {
		if !strings.Contains(text, want) {
			t.Errorf("banner lacks %q:\n%s", want, text)
		}
	}

	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(swaks, args...).CombinedOutput()
		if err != nil {
			t.Errorf("swaks %q: %v\n%s", args, err, out)
		}
		return string(out)
	}
	// The world writes to alice; alice and bob submit, as the banner says.
	run("--server", "127.0.0.1:"+strconv.Itoa(smtp), "--from", "carol@example.net", "--to", "alice@example.test")
	run("--server", "127.0.0.1:"+strconv.Itoa(sub), "--tls", "--auth", "PLAIN", "--auth-user", "alice@example.test",
		"--auth-password", "alice-demo-password", "--from", "alice@example.test", "--to", "bob@example.test")
	run("--server", "127.0.0.1:"+strconv.Itoa(smtps), "--tlsc", "--auth", "LOGIN", "--auth-user", "bob@example.test",
		"--auth-password", "bob-demo-password", "--from", "bob@example.test", "--to", "alice@example.test")
	// Without a login, the submission port takes nothing.
	out, err := exec.Command(swaks, "--server", "127.0.0.1:"+strconv.Itoa(sub), "--tls", "--from", "x@example.net", "--to", "bob@example.test").CombinedOutput()
	if !strings.Contains(string(out), "554 5.7.1") {
		t.Errorf("unauthenticated submission not refused with 554 5.7.1:\n%s", out)
	}
	deadline := time.Now().Add(patience)
	for {
		a, _ := os.ReadDir(filepath.Join(dir, "mail", "alice", "new"))
		b, _ := os.ReadDir(filepath.Join(dir, "mail", "bob", "new"))
		if len(a) == 2 && len(b) == 1 {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "maillog"))
			t.Fatalf("alice has %d messages, bob %d; want 2 and 1\n%s", len(a), len(b), log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The banner's IMAP one-liner reads bob's message.
	var py string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "python3 -c ") || strings.HasPrefix(l, "c.login(") {
			py += l + "\n"
		}
	}
	py = strings.TrimSuffix(strings.TrimPrefix(strings.ReplaceAll(py, "python3 -c '", ""), ""), "'\n")
	out, err = exec.Command(needTool(t, "python3"), "-c", py).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"bob" "example.test"`) {
		t.Errorf("the banner's IMAP command: %v\n%s\n%s", err, py, out)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "maillog"))
	for _, want := range []string{"sasl_method=PLAIN, sasl_username=alice@example.test", "sasl_method=LOGIN, sasl_username=bob@example.test"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("the mail log lacks %q", want)
		}
	}
}
