package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPoplibCommands: Python's poplib runs every POP3 command against
// pop3d — CAPA, STLS, USER/PASS, AUTH PLAIN, STAT, LIST, UIDL, TOP, RETR,
// DELE, RSET, NOOP, QUIT — on three messages delivered by smtpd: before
// STLS no login; DELE takes effect at QUIT only, RSET undoes it; a second
// session for the mailbox is refused [IN-USE] until the first quits; the
// UIDLs are `%08x%08x` of the IMAP UIDVALIDITY and UID, the same in every
// session; RETR makes the message \Seen for IMAP. The script
// (testdata/pop3_commands.py) records the replies; the checks are here.
func TestPoplibCommands(t *testing.T) {
	t.Parallel()
	a := startAccess(t, "")
	a.deliver("bob", 3, "one", "two", "three")
	got := pythonSteps(t, "pop3_commands.py", strconv.Itoa(a.pop3), strconv.Itoa(a.imap), a.cert, "bob@"+domain, password("bob"))
	// The IMAP view after the sessions: UIDs 1 and 3 (2 deleted at QUIT).
	var uidValidity uint64
	if f := strings.Fields(strings.Trim(got["imap_uidvalidity"], "()")); len(f) == 3 {
		uidValidity, _ = strconv.ParseUint(strings.TrimSuffix(f[2], ")"), 10, 32)
	}
	if uidValidity == 0 {
		t.Fatalf("no UIDVALIDITY from IMAP STATUS: %q", got["imap_uidvalidity"])
	}
	uidl := func(uid int) string { return fmt.Sprintf("%08x%08x", uidValidity, uid) }

	checkSteps(t, got, []stepWant{
		{"welcome", []string{"+OK"}},
		{"capa_plain", []string{"STLS", "TOP", "UIDL", "RESP-CODES", "PIPELINING"}},
		{"user_before_stls", []string{"ERR -ERR [AUTH] Plaintext authentication disallowed"}},
		{"stls", []string{"+OK"}},
		{"capa_tls", []string{"USER", "SASL PLAIN", "TOP", "UIDL"}},
		{"pass_wrong", []string{"ERR -ERR [AUTH] Authentication failed."}},
		{"pass", []string{"+OK"}},
		{"stat", []string{"3\n"}},
		{"list", []string{"1 ", "2 ", "3 "}},
		{"list_1", []string{"+OK 1 "}},
		{"list_9", []string{"ERR -ERR There's no message 9."}},
		{"uidl", []string{"1 " + uidl(1), "2 " + uidl(2), "3 " + uidl(3)}},
		{"uidl_2", []string{"+OK 2 " + uidl(2)}},
		{"top", []string{"Subject: one\n", "Message-ID: <one@e2e.test>"}},
		{"retr", []string{"Subject: one\n", "\n\nThis is one."}},
		{"dele_1", []string{"+OK"}},
		{"retr_deleted", []string{"ERR -ERR Message is deleted."}},
		{"list_deleted", []string{"ERR -ERR Message is deleted."}},
		{"rset", []string{"+OK"}},
		{"list_after_rset", []string{"+OK 1 "}},
		{"noop", []string{"+OK"}},
		{"retr_3", []string{"+OK"}},
		{"dele_2", []string{"+OK"}},
		{"stat_after_dele", []string{"2\n"}},
		{"quit", []string{"+OK"}},
		{"auth_plain", []string{"+OK"}},
		{"stat_2", []string{"2\n"}},
		{"uidl_2nd", []string{"1 " + uidl(1) + "\n2 " + uidl(3)}},
		{"pass_in_use", []string{"ERR -ERR [IN-USE]"}},
		{"quit_2", []string{"+OK"}},
		{"pass_after_unlock", []string{"+OK"}},
		{"uidl_3rd", []string{"1 " + uidl(1) + "\n2 " + uidl(3)}},
		{"imap_fetch", []string{"1 (UID 1 FLAGS ())", `2 (UID 3 FLAGS (\Seen))`}},
	})
	if l := got["top"]; strings.Contains(l, "This is one") {
		t.Errorf("TOP 1 0 sent body lines:\n%s", l)
	}
	// The sizes LIST gives are RFC822.SIZE: the file's with CRLF endings.
	if files := a.serverFiles("bob", ""); len(files) != 2 {
		t.Errorf("after DELE 2 and QUIT the Maildir holds %q, want two files", files)
	}
	a.waitLog("pop3d", "Login: user=<bob@"+domain+">", "method=PLAIN", "TLS")
	a.waitLog("pop3d", "Mailbox is locked by another POP3 session")
	a.stop()
}

// TestFetchmail: fetchmail retrieves bob's mail over POP3 with STLS,
// checking the server's certificate, into an MDA that writes one file per
// message. Keeping the mail on the server (the default) and --uidl, a
// second run fetches only the message delivered in between, a third
// fetches nothing: the UIDLs are stable. Then --nokeep --all fetches
// everything and deletes it: the server's Maildir is empty.
func TestFetchmail(t *testing.T) {
	t.Parallel()
	fetchmail := needTool(t, "fetchmail")
	a := startAccess(t, "")
	a.deliver("bob", 2, "fm1", "fm2")
	home := t.TempDir()
	got := subdir(t, home, "got")
	rc := filepath.Join(home, "fetchmailrc")
	if err := os.WriteFile(rc, []byte(fmt.Sprintf(`set no syslog
poll mail.%[1]s via 127.0.0.1 service %[2]d protocol POP3 uidl
  user "bob@%[1]s" there with password "%[3]s"
  sslproto "tls1.2+" sslcertck sslcertfile "%[4]s" sslcommonname "mail.%[1]s"
  mda "/bin/sh -c 'cat > %[5]s/msg.$$'"
`, domain, a.pop3, password("bob"), a.cert, got)), 0o600); err != nil {
		t.Fatal(err)
	}
	// run returns how many messages fetchmail delivered to the MDA so far.
	run := func(wantExit int, args ...string) int {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		cmd := exec.CommandContext(ctx, fetchmail, append([]string{"-f", rc, "-i", filepath.Join(home, "fetchids"), "-v"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+home, "FETCHMAILHOME="+home)
		out, err := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != wantExit {
			t.Fatalf("fetchmail %q: exit %d (%v), want %d:\n%s", args, code, err, wantExit, out)
		}
		files, _ := os.ReadDir(got)
		return len(files)
	}
	// fetchmail's exit status 1 means "no mail".
	if n := run(0, "--keep"); n != 2 {
		t.Fatalf("first run: %d messages fetched, want 2", n)
	}
	a.deliver("bob", 3, "fm3")
	if n := run(0, "--keep"); n != 3 {
		t.Fatalf("second run: %d messages fetched in all, want 3 (only the new one)", n)
	}
	if n := run(1, "--keep"); n != 3 {
		t.Fatalf("third run: %d messages fetched in all, want still 3", n)
	}
	if n := run(0, "--nokeep", "--all"); n != 6 {
		t.Fatalf("--nokeep --all: %d messages fetched in all, want 6", n)
	}
	if files := a.serverFiles("bob", ""); len(files) != 0 {
		t.Errorf("after fetchmail --nokeep the server's Maildir holds %q", files)
	}
	files, _ := filepath.Glob(filepath.Join(got, "msg.*"))
	subjects := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		subjects[headerValue(strings.ReplaceAll(string(b), "\r\n", "\n"), "Subject")]++
	}
	if subjects["fm1"] != 2 || subjects["fm2"] != 2 || subjects["fm3"] != 2 {
		t.Errorf("fetched subjects %v, want fm1, fm2 and fm3 twice each", subjects)
	}
	a.stop()
}

// TestImplicitTLS: the 993- and 995-style services (master.cf
// `-o imapd_tls_wrappermode=yes`, `-o pop3d_tls_wrappermode=yes`) speak
// TLS from the first byte; Python's IMAP4_SSL and POP3_SSL verify the
// certificate and log in at once (no STARTTLS/STLS, no LOGINDISABLED).
func TestImplicitTLS(t *testing.T) {
	t.Parallel()
	a := startAccess(t, "")
	a.deliver("bob", 1, "over tls")
	out := python(t, "implicit_tls.py", strconv.Itoa(a.imaps), strconv.Itoa(a.pop3s), a.cert, "bob@"+domain, password("bob"))
	for _, want := range []string{"AUTH=PLAIN", "imaps fetch: Subject: over tls", "USER", "pop3s stat: (1, "} {
		if !strings.Contains(out, want) {
			t.Errorf("implicit_tls.py output lacks %q:\n%s", want, out)
		}
	}
	for _, not := range []string{"STARTTLS", "LOGINDISABLED", "STLS"} {
		if strings.Contains(out, not) {
			t.Errorf("%s offered on a TLS port:\n%s", not, out)
		}
	}
	a.stop()
}
