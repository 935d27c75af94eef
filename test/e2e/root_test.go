package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// rootSystem is a mail system started as root, as in production: the
// privileged parent (root) binds and runs deliveries as the users, the
// mail system proper runs as mail_owner. Its local domains
// (mydestination) are localhost and this host's names, delivered by the
// local agent to real Unix accounts made for the test.
type rootSystem struct {
	*system
	owner unixUser // mail_owner
	spool string   // mail_spool_directory (mode 1777, as docs/local.md asks)
	out   string   // a directory anyone may write: traces of files and commands
	homes string   // the test accounts' homes are made here
}

// newRootSystem writes the configuration; mainCF is appended (later
// entries win). The aliases table is empty until setAliases.
func newRootSystem(t *testing.T, mainCF string) *rootSystem {
	t.Helper()
	needRoot(t)
	owner := mailOwner(t)
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	s := newSystem(t, options{})
	s.root = true
	r := &rootSystem{system: s, owner: owner, spool: s.path("varmail"), out: s.path("out"), homes: s.path("home")}
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{r.spool, 0o1777}, {r.out, 0o1777}, {r.homes, 0o755}} {
		if err := os.Mkdir(d.path, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d.path, d.mode); err != nil {
			t.Fatal(err)
		}
	}
	// The queue directory is given to mail_owner by the parent; data/
	// is the administrator's job, as for Postfix's data_directory.
	if err := os.Chown(s.path("data"), owner.uid, owner.gid); err != nil {
		t.Fatal(err)
	}
	base, err := os.ReadFile(s.path("etc/main.cf"))
	if err != nil {
		t.Fatal(err)
	}
	// Settings set again below are dropped from the base (no "overriding
	// earlier entry" warnings).
	var kept []string
	for _, l := range strings.SplitAfter(string(base), "\n") {
		if k, _, _ := strings.Cut(l, " ="); k != "mydestination" && k != "alias_maps" && k != "alias_database" {
			kept = append(kept, l)
		}
	}
	s.writeFile("etc/main.cf", strings.Join(kept, "")+fmt.Sprintf(`# local delivery as root (root_test.go)
mail_owner = %[1]s
mydestination = localhost, localhost.localdomain, $myhostname, %[2]s
mail_spool_directory = %[3]s
home_mailbox =
alias_maps = hash:%[4]s
alias_database = hash:%[4]s
biff = no
%[5]s
`, owner.name, host, r.spool, s.path("etc/aliases"), mainCF))
	r.setAliases("")
	return r
}

// setAliases writes the aliases file (owned by root, the mail system
// only reads it) and builds its index with mailhorn alias, as root.
func (r *rootSystem) setAliases(text string) {
	r.t.Helper()
	r.writeFile("etc/aliases", "# e2e aliases\npostmaster: root\n"+text)
	if code, out := r.mailhorn("alias", "-c", r.etc, "hash:"+r.path("etc/aliases")); code != 0 {
		r.t.Fatalf("mailhorn alias: exit %d:\n%s", code, out)
	}
}

// addUser makes a test account with a home under r.homes (extra: more
// useradd options).
func (r *rootSystem) addUser(tag string, extra ...string) unixUser {
	r.t.Helper()
	args := append([]string{"-m", "-b", r.homes, "-s", "/bin/sh"}, extra...)
	return addUser(r.t, userName(r.t, tag), args...)
}

// writeAs writes a file owned by u with the given mode, as a user editing
// her own .forward would.
func (r *rootSystem) writeAs(u unixUser, path, text string, mode os.FileMode) {
	r.t.Helper()
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Chown(path, u.uid, u.gid); err != nil {
		r.t.Fatal(err)
	}
}

// start runs `mailhorn start-fg` as root and checks the privilege
// separation: the process the harness started is root, and its child, the
// mail system proper, runs as mail_owner with no other group.
func (r *rootSystem) start() {
	r.t.Helper()
	r.system.start()
	parent := r.cmd.Process.Pid
	if uid, _, _ := procIDs(parent); uid != 0 {
		r.t.Fatalf("start-fg (pid %d) runs as uid %d, want root", parent, uid)
	}
	var child int
	r.eventually("the mail system running as a child of the privileged parent", func() bool {
		child = childOf(parent, r.owner.uid)
		return child != 0
	}, func() string { return r.stderrSince(0) })
	uid, gid, groups := procIDs(child)
	if uid != r.owner.uid || gid != r.owner.gid || groups != strconv.Itoa(r.owner.gid) {
		r.t.Errorf("mail system (pid %d) runs as uid %d gid %d groups %q, want mail_owner %s: %d %d %q",
			child, uid, gid, groups, r.owner.name, r.owner.uid, r.owner.gid, strconv.Itoa(r.owner.gid))
	}
}

// procIDs reads a process's effective uid and gid and its supplementary
// groups from /proc (-1 if it is gone).
func procIDs(pid int) (uid, gid int, groups string) {
	uid, gid = -1, -1
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		fs := strings.Fields(v)
		switch {
		case k == "Uid" && len(fs) > 1:
			uid, _ = strconv.Atoi(fs[1])
		case k == "Gid" && len(fs) > 1:
			gid, _ = strconv.Atoi(fs[1])
		case k == "Groups":
			groups = strings.Join(fs, " ")
		}
	}
	return
}

// childOf finds a child process of parent running as uid (0: none).
func childOf(parent, uid int) int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		_, rest, ok := strings.Cut(string(b), ") ")
		f := strings.Fields(rest)
		if !ok || len(f) < 2 || f[1] != strconv.Itoa(parent) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if u, _, _ := procIDs(pid); u == uid {
			return pid
		}
	}
	return 0
}

// owned checks that path is a regular file owned by uid and returns its
// content.
func (r *rootSystem) owned(path string, uid int) string {
	r.t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		r.t.Fatal(err)
	}
	if !st.Mode().IsRegular() {
		r.t.Errorf("%s: %v, not a regular file", path, st.Mode())
	}
	if got := int(st.Sys().(*syscall.Stat_t).Uid); got != uid {
		r.t.Errorf("%s is owned by uid %d, want %d", path, got, uid)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		r.t.Fatal(err)
	}
	return string(b)
}

// waitFile waits until path exists and holds every one of words.
func (r *rootSystem) waitFile(path string, words ...string) string {
	r.t.Helper()
	var text string
	r.eventually(fmt.Sprintf("%s holding %q", path, words), func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		text = string(b)
		for _, w := range words {
			if !strings.Contains(text, w) {
				return false
			}
		}
		return true
	}, func() string { return fmt.Sprintf("%s: %q\nmail log:\n%s", path, text, r.maillog()) })
	return text
}

// status waits for the mail log's delivery line of queue ID id to rcpt
// with status=WHAT and returns it.
func (r *rootSystem) status(id, rcpt, what string) string {
	r.t.Helper()
	return r.waitLog(id+": to=<"+rcpt+">", "status="+what)[0]
}

// waitQueueEmpty waits until no queue file is left (two polls in a row).
func (r *rootSystem) waitQueueEmpty() {
	r.t.Helper()
	var q []string
	r.settled("the queue empty", func() bool {
		q = r.queued()
		return len(q) == 0
	}, func() string { return fmt.Sprintf("queue holds %q\nmail log:\n%s", q, r.maillog()) })
}

// runAsUser runs a mailhorn command as an unprivileged account with
// runuser, as a user at a shell prompt would.
func (r *rootSystem) runAsUser(u unixUser, args ...string) (int, string) {
	r.t.Helper()
	cmd := exec.Command("runuser", append([]string{"-u", u.name, "--", mailhornBin}, args...)...)
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil && cmd.ProcessState == nil {
		r.t.Fatalf("runuser %s mailhorn %s: %v", u.name, strings.Join(args, " "), err)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}
