package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"testing"
)

// recipe returns the main.cf block of docs/recipes.md whose first line is
// "# recipe: NAME main.cf".
func recipe(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../docs/recipes.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```\n# recipe: "+name+" main.cf\n")
	if !ok {
		t.Fatalf("docs/recipes.md has no block starting with \"# recipe: %s main.cf\"", name)
	}
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("docs/recipes.md: recipe %s: no closing ```", name)
	}
	return block
}

// useRecipe replaces a system's main.cf with a recipe, then the settings
// only a test system changes: its directories, no /etc/aliases, loopback
// only, and extra (later entries replace the recipe's).
func (s *system) useRecipe(name, extra string) {
	s.t.Helper()
	s.writeFile("etc/main.cf", "# recipe "+name+" from docs/recipes.md\n"+recipe(s.t, name))
	s.appendMainCF(fmt.Sprintf(`# test system (recipes_test.go)
queue_directory = %[1]s/spool
data_directory = %[1]s/data
maillog_file = %[1]s/log/maillog
alias_maps =
alias_database =
inet_interfaces = loopback-only
%[2]s`, s.dir, extra))
}

// startWithoutListener starts a system whose master.cf has no inet
// service: it is up once the pid file exists.
func (s *system) startWithoutListener() {
	s.t.Helper()
	stderr, err := os.OpenFile(s.path("start-fg.stderr"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := s.command("start-fg", "-c", s.etc)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.cmd, s.stderr, s.exited = cmd, stderr, make(chan struct{})
	go func() { cmd.Wait(); close(s.exited) }()
	if !s.cleanupSet {
		s.cleanupSet = true
		s.t.Cleanup(s.cleanup)
	}
	s.eventually("started (pid file)", func() bool {
		select {
		case <-s.exited:
			s.t.Fatalf("mailhorn start-fg exited: %s", s.stderrSince(0))
		default:
		}
		_, err := os.Stat(s.path("spool/pid/master.pid"))
		return err == nil
	}, func() string { return s.stderrSince(0) })
}

// TestRecipes runs the three main.cf recipes of docs/recipes.md as
// written there, chained: `mailhorn sendmail` on the null client (no SMTP
// listener) → its relayhost, the LAN relay → by MX → the mail server for
// example.com, which delivers into carol's Maildir.
func TestRecipes(t *testing.T) {
	t.Parallel()
	server := newSystem(t, options{users: []string{}})
	server.useRecipe("server", fmt.Sprintf(`virtual_mailbox_maps = hash:%[1]s/etc/vmailbox
virtual_mailbox_base = %[1]s/mail
virtual_uid_maps = static:%[2]d
virtual_gid_maps = static:%[3]d
virtual_minimum_uid = %[2]d`, server.dir, runAs.uid, runAs.gid))
	server.writeFile("etc/vmailbox", "carol@example.com carol/\n")
	if out, err := exec.Command(mailhornBin, "map", "-c", server.etc, "hash:"+server.path("etc/vmailbox")).CombinedOutput(); err != nil {
		t.Fatalf("mailhorn map: %v\n%s", err, out)
	}
	server.start()

	// The LAN relay finds the server by MX; the port comes from the
	// transport, since DNS cannot say it.
	dns := startDNS(t, "example.com. MX 10 mail.example.com.", "mail.example.com. A 127.0.0.1")
	lan := newSystem(t, options{})
	lan.useRecipe("lanrelay", fmt.Sprintf("mailhorn_dns_resolver = %s\ntransport_maps = inline:{example.com=smtp:example.com:%d}", dns.addr, server.port))
	lan.start()

	null := newSystem(t, options{})
	null.useRecipe("nullclient", fmt.Sprintf("relayhost = [127.0.0.1]:%d", lan.port))
	def, err := exec.Command(mailhornBin, "conf", "-c", null.path("no-such-dir"), "-M").Output()
	if err != nil {
		t.Fatalf("mailhorn conf -M: %v", err)
	}
	var mcf strings.Builder
	for _, l := range strings.SplitAfter(string(def), "\n") {
		if f := strings.Fields(l); len(f) > 1 && (f[1] == "inet" || f[0] == "local") {
			mcf.WriteString("#" + l)
			continue
		}
		mcf.WriteString(l)
	}
	null.writeFile("etc/master.cf", mcf.String())
	null.startWithoutListener()
	if c, err := net.Dial("tcp", null.addr()); err == nil {
		c.Close()
		t.Errorf("the null client accepts connections on %s", null.addr())
	}

	cmd := null.command("sendmail", "-c", null.etc, "-i", "carol")
	cmd.Stdin = strings.NewReader("Subject: recipes\nMessage-ID: <recipes@e2e.test>\n\nthrough three systems\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sendmail on the null client: %v: %s", err, out)
	}

	msgs := server.waitDelivered(1)
	m := msgs[0]
	name := "nobody"
	if !runAs.root {
		u, err := user.LookupId(strconv.Itoa(os.Getuid()))
		if err != nil {
			t.Fatal(err)
		}
		name = u.Username
	}
	// myorigin = $mydomain: the sender and the bare recipient get
	// @example.com, not the host's name.
	if m.user != "carol" || !strings.HasPrefix(m.raw, "Return-Path: <"+name+"@example.com>\nDelivered-To: carol@example.com\n") {
		t.Errorf("delivered to %s, want carol from %s@example.com:\n%s", m.user, name, m.raw)
	}
	for _, by := range []string{"by host1.example.com", "by relay.lan.example.com", "by mail.example.com"} {
		if !strings.Contains(m.raw, by) {
			t.Errorf("no Received header %q:\n%s", by, m.raw)
		}
	}
	null.waitLog("to=<carol@example.com>", fmt.Sprintf("relay=127.0.0.1[127.0.0.1]:%d", lan.port), "status=sent")
	lan.waitLog("to=<carol@example.com>", fmt.Sprintf("relay=mail.example.com[127.0.0.1]:%d", server.port), "status=sent")
	for _, s := range []*system{null, lan} {
		s.settled("the queue empty", func() bool { return len(s.queued()) == 0 },
			func() string { return fmt.Sprintf("queue: %q", s.queued()) })
	}
	null.stop()
	lan.stop()
	server.stop()
}
