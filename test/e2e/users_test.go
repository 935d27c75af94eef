package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"testing"
	"time"
)

// unixUser is a test account in /etc/passwd, made with useradd for one
// test and removed (home included) with userdel -r when it ends.
type unixUser struct {
	name     string
	home     string
	uid, gid int
}

// needRoot skips a test that must run as root, except in CI (which runs
// `make test` as root): there, not being root is a failure.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("this test needs root, and CI runs the suite as root")
	}
	t.Skip("needs root: it creates Unix accounts and runs the privileged parent")
}

// userName is "mhe2e-TAG-XXXX": unique per call, at most 32 characters
// (useradd's limit), recognisable as the suite's if one is ever left behind.
func userName(t *testing.T, tag string) string {
	t.Helper()
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	if len(tag) > 16 {
		tag = tag[:16]
	}
	return "mhe2e-" + tag + "-" + hex.EncodeToString(b)
}

// addUser creates an account with useradd (extra are more useradd
// options) and arranges its removal with userdel -r.
func addUser(t *testing.T, name string, extra ...string) unixUser {
	t.Helper()
	args := append(append([]string{}, extra...), name)
	userCmd(t, "useradd", args...)
	t.Cleanup(func() { delUser(t, name) })
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("user %s just created: %v", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return unixUser{name: name, home: u.HomeDir, uid: uid, gid: gid}
}

// delUser removes the account and its home. userdel refuses while the
// account runs a process: a test that leaves one (a delivery command not
// killed) fails here.
func delUser(t *testing.T, name string) {
	t.Helper()
	userCmd(t, "userdel", "-r", name)
	if _, err := user.Lookup(name); err == nil {
		t.Errorf("account %s still exists after userdel", name)
	}
}

// userCmd runs useradd or userdel, retrying while another one (a parallel
// test) holds the lock on /etc/passwd or /etc/group.
func userCmd(t *testing.T, tool string, args ...string) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		out, err := exec.Command(tool, args...).CombinedOutput()
		if err == nil {
			return
		}
		text := string(out)
		if tool == "userdel" && strings.Contains(text, "mail spool") && !strings.Contains(text, "cannot") {
			// "mail spool (/var/mail/NAME) not found": only a warning.
			if _, lerr := user.Lookup(args[len(args)-1]); lerr != nil {
				return
			}
		}
		if attempt < 50 && (strings.Contains(text, "lock") || strings.Contains(text, "try again")) {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
}

// mailOwner gives the account the mail system runs as: mailhorn when the
// machine has it (the documented name), else a system account made for
// this test.
func mailOwner(t *testing.T) unixUser {
	t.Helper()
	if u, err := user.Lookup("mailhorn"); err == nil {
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return unixUser{name: "mailhorn", home: u.HomeDir, uid: uid, gid: gid}
	}
	return addUser(t, userName(t, "owner"), "--system", "--home-dir", "/nonexistent", "--no-create-home", "--shell", "/usr/sbin/nologin")
}
