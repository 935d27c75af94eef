package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"mailhorn/internal/config/postfixtest"
)

// runConfIn runs mailhorn conf in-process and returns stdout, stderr and
// the exit status.
func runConfIn(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runCommand(t, runConf, "", args...)
}

func runPostconf(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(postfixtest.Tool(t, "postconf"), args...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("postconf %q: %v", args, err)
	}
	return string(out)
}

func confDir(t *testing.T, mainCF, masterCF string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range map[string]string{"main.cf": mainCF, "master.cf": masterCF} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestConfMatchesPostconf(t *testing.T) {
	postfixtest.Tool(t, "postconf")
	master := postfixtest.MasterCF(t)
	queries := [][]string{
		{"-n"}, {"-nx"}, {"-nf"}, {"-nh"},
		{"-x", "mydestination", "smtpd_banner", "relayhost", "myorigin", "mynetworks", "mydomain"},
		{"-h", "mydestination", "smtpd_banner", "smtpd_recipient_restrictions"},
		{"-xh", "relay_destination_concurrency_limit", "smtp_destination_rate_delay", "local_destination_recipient_limit"},
		{"-f", "smtpd_recipient_restrictions", "smtpd_client_event_limit_exceptions", "relay_domains"},
	}
	for name, text := range postfixtest.Corpus(t, "../..") {
		dir := confDir(t, text, master)
		for _, q := range queries {
			args := append([]string{"-c", dir}, q...)
			want := runPostconf(t, args...)
			got, stderr, code := runConfIn(t, args...)
			if code != 0 {
				t.Errorf("%s %q: exit %d: %s", name, q, code, stderr)
			}
			if got != want {
				t.Errorf("%s: mailhorn conf %q:\n%s\npostconf:\n%s", name, q, got, want)
			}
		}
	}
}

// submissionMaster is Debian's master.cf with the standard submission
// entry uncommented, -o lines included.
func submissionMaster(t *testing.T) string {
	var out []string
	in := false
	for _, l := range strings.Split(postfixtest.MasterCF(t), "\n") {
		switch {
		case strings.HasPrefix(l, "#submission "):
			in = true
			l = l[1:]
		case in && strings.HasPrefix(l, "#  -o"):
			l = l[1:]
		case in && strings.HasPrefix(l, "#     "):
		default:
			in = false
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func TestConfMasterMatchesPostconf(t *testing.T) {
	postfixtest.Tool(t, "postconf")
	dir := confDir(t, "myhostname = m.example\n", submissionMaster(t))
	for _, q := range [][]string{{"-M"}, {"-Mf"}, {"-Mx"}, {"-Mfx"}, {"-M", "submission"}, {"-Mf", "submission/inet", "relay"}} {
		args := append([]string{"-c", dir}, q...)
		want := runPostconf(t, args...)
		got, stderr, code := runConfIn(t, args...)
		if code != 0 {
			t.Errorf("%q: exit %d: %s", q, code, stderr)
		}
		if got != want {
			t.Errorf("mailhorn conf %q:\n%s\npostconf:\n%s", q, got, want)
		}
	}
	if !strings.Contains(runPostconf(t, "-c", dir, "-M", "submission"), "smtpd_tls_security_level=encrypt") {
		t.Errorf("submission entry not uncommented")
	}
}

func TestConfEditMatchesPostconf(t *testing.T) {
	postfixtest.Tool(t, "postconf")
	start := `# head
myorigin = a
  b
  # comment inside
  c
relayhost = x

# trailer
mydestination = $myhostname,
    localhost
myorigin = dup
`
	edits := [][]string{
		{"-e", "myorigin = new  val", "newparam=3", "relayhost="},
		{"-e", "mydestination=example.com, localhost", "message_size_limit=20480000"},
		{"-X", "relayhost", "myorigin", "nosuch"},
		{"-#", "myorigin", "mydestination"},
	}
	for _, ed := range edits {
		pfDir := confDir(t, start, "")
		mhDir := confDir(t, start, "")
		runPostconf(t, append([]string{"-c", pfDir}, ed...)...)
		if _, stderr, code := runConfIn(t, append([]string{"-c", mhDir}, ed...)...); code != 0 {
			t.Errorf("%q: exit %d: %s", ed, code, stderr)
		}
		want, _ := os.ReadFile(filepath.Join(pfDir, "main.cf"))
		got, _ := os.ReadFile(filepath.Join(mhDir, "main.cf"))
		if string(got) != string(want) {
			t.Errorf("after %q:\nmailhorn:\n%s\npostconf:\n%s", ed, got, want)
		}
	}
}

// Deliberate difference: postconf -e appends to a file whose last line
// lacks a newline without adding one ("last = 1newparam = 3"); we add it.
func TestConfEditAddsMissingNewline(t *testing.T) {
	dir := confDir(t, "myorigin = a", "")
	if _, stderr, code := runConfIn(t, "-c", dir, "-e", "relayhost=[r]:25"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "main.cf"))
	if string(got) != "myorigin = a\nrelayhost = [r]:25\n" {
		t.Errorf("main.cf = %q", got)
	}
}

func TestConfEditRejectsBadValue(t *testing.T) {
	dir := confDir(t, "# keep\nmyorigin = a\n", "")
	_, stderr, code := runConfIn(t, "-c", dir, "-e", "message_size_limit=ten")
	if code != 1 || !strings.Contains(stderr, "mailhorn conf: fatal: ") || !strings.Contains(stderr, "bad numerical configuration: message_size_limit = ten") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "main.cf"))
	if string(got) != "# keep\nmyorigin = a\n" {
		t.Errorf("main.cf changed: %q", got)
	}
	_, stderr, code = runConfIn(t, "-c", dir, "-e", "novalue")
	if code != 1 || !strings.Contains(stderr, "missing '=' after attribute name") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestConfMessages(t *testing.T) {
	dir := confDir(t, "myorigin = a\norphan = 1\nmyorigin = b\n", "")
	out, stderr, code := runConfIn(t, "-c", dir, "myorigin", "nosuch")
	if code != 0 || out != "myorigin = b\n" {
		t.Errorf("exit %d, out %q", code, out)
	}
	for _, want := range []string{
		"mailhorn conf: warning: " + dir + "/main.cf, line 3: overriding earlier entry: myorigin=a\n",
		"mailhorn conf: warning: " + dir + "/main.cf, line 2: unused parameter: orphan=1\n",
		"mailhorn conf: warning: nosuch: unknown parameter\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
	}
	bad := confDir(t, "myorigin = a\nmessage_size_limit = ten\n", "")
	_, stderr, code = runConfIn(t, "-c", bad, "-n")
	if code != 1 || stderr != "mailhorn conf: fatal: "+bad+"/main.cf, line 2: bad numerical configuration: message_size_limit = ten (expected a size in bytes)\n" {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = runConfIn(t, "-q")
	if code != 1 || !strings.Contains(stderr, "unknown option -q") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// Our defaults, where they differ from Postfix on purpose.
func TestConfDefaults(t *testing.T) {
	dir := t.TempDir()
	out, _, code := runConfIn(t, "-c", dir, "-d", "compatibility_level", "config_directory", "mynetworks_style", "alias_maps")
	want := "compatibility_level = 3.6\nconfig_directory = /etc/mailhorn\nmynetworks_style = ${{$compatibility_level} <level {2} ? {subnet} : {host}}\nalias_maps = hash:/etc/aliases\n"
	if code != 0 || out != want {
		t.Errorf("exit %d, out:\n%s", code, out)
	}
	out, _, _ = runConfIn(t, "-c", dir, "-dxh", "mynetworks_style", "smtputf8_enable")
	if out != "host\nyes\n" {
		t.Errorf("-dxh: %q", out)
	}
	// With no main.cf at all, everything is listed, sorted.
	out, _, _ = runConfIn(t, "-c", dir)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 100 || !regexp.MustCompile(`^2bounce_notice_recipient = postmaster$`).MatchString(lines[0]) {
		t.Errorf("full listing starts %q (%d lines)", lines[0], len(lines))
	}
	// The default master.cf is used when DIR/master.cf is missing.
	out, _, _ = runConfIn(t, "-c", dir, "-M", "smtp/inet")
	if out != "smtp       inet  n       -       n       -       -       smtpd\n" {
		t.Errorf("-M smtp/inet: %q", out)
	}
}
