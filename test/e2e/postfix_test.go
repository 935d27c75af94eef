package e2e

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A private Postfix instance for the interop tests (lmtp_test.go,
// postfix_mx_test.go): its own config and queue directories under /tmp,
// smtpd on loopback ports. Root only: Postfix's master starts as root and
// drops to the postfix account.

// pfInstance is a private Postfix instance: newPostfix makes its
// directories, start writes its configuration and starts it.
type pfInstance struct {
	t    *testing.T
	dir  string // holds conf/, spool/, data/, the extra dirs, maillog
	conf string
}

// pfListener is one smtpd service of an instance: its port and the
// master.cf "-o name=value" overrides it runs with.
type pfListener struct {
	port int
	opts []string
}

// pfConfig is what differs between instances.
type pfConfig struct {
	myhostname string
	mainCF     string            // appended to main.cf
	transports string            // master.cf services beyond the common ones
	listeners  []pfListener      // one smtpd each
	maps       map[string]string // conf/NAME files, indexed with postmap hash:
}

// newPostfix makes the instance's directory (prefix names it): conf/,
// spool/, data/ (owned by postfix) and extra, all under one directory
// removed when the test ends.
func newPostfix(t *testing.T, prefix string, extra ...string) *pfInstance {
	t.Helper()
	dir, err := os.MkdirTemp("", "mailhorn-e2e-"+prefix+"-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	for _, d := range append([]string{"conf", "spool", "data"}, extra...) {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	runOK(t, "chown", "postfix", filepath.Join(dir, "data"))
	return &pfInstance{t: t, dir: dir, conf: filepath.Join(dir, "conf")}
}

// start writes main.cf, master.cf and the maps, checks the configuration,
// starts the instance (stopped when the test ends) and waits until every
// smtpd accepts.
func (p *pfInstance) start(c pfConfig) {
	t := p.t
	t.Helper()
	postfix := sbinTool(t, "postfix")
	postmap := sbinTool(t, "postmap")
	p.write("main.cf", fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/spool
data_directory = %[1]s/data
mail_owner = postfix
setgid_group = postdrop
myhostname = %[2]s
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
alias_maps =
alias_database =
maillog_file = %[1]s/maillog
maillog_file_prefixes = %[1]s
%[3]s
`, p.dir, c.myhostname, c.mainCF))
	var master strings.Builder
	for _, l := range c.listeners {
		fmt.Fprintf(&master, "127.0.0.1:%d inet n - n - - smtpd\n", l.port)
		for _, o := range l.opts {
			fmt.Fprintf(&master, "  -o %s\n", o)
		}
	}
	master.WriteString(`pickup     unix  n - n 60    1 pickup
cleanup    unix  n - n -     0 cleanup
qmgr       unix  n - n 300   1 qmgr
rewrite    unix  - - n -     - trivial-rewrite
bounce     unix  - - n -     0 bounce
defer      unix  - - n -     0 bounce
trace      unix  - - n -     0 bounce
verify     unix  - - n -     1 verify
proxymap   unix  - - n -     - proxymap
smtp       unix  - - n -     - smtp
showq      unix  n - n -     - showq
error      unix  - - n -     - error
retry      unix  - - n -     - error
discard    unix  - - n -     - discard
anvil      unix  - - n -     1 anvil
scache     unix  - - n -     1 scache
postlog    unix-dgram n - n - 1 postlogd
`)
	master.WriteString(c.transports)
	p.write("master.cf", master.String())
	names := make([]string, 0, len(c.maps))
	for name := range c.maps {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p.write(name, c.maps[name])
		runOK(t, postmap, "-c", p.conf, "hash:"+filepath.Join(p.conf, name))
	}
	runOK(t, postfix, "-c", p.conf, "check")
	stop := func() {
		stopDaemon(exec.Command(postfix, "-c", p.conf, "stop"), filepath.Join(p.dir, "spool/pid/master.pid"))
	}
	// Now and then Postfix's postlogd dies as the instance starts; every
	// Postfix process then blocks on its log and no greeting ever comes.
	// Such an instance is stopped and started again.
	for try := 1; ; try++ {
		if err := exec.Command(postfix, "-c", p.conf, "start").Run(); err != nil { // no pipes: the master keeps them
			t.Fatalf("postfix -c %s start: %v\n%s", p.conf, err, p.log())
		}
		greets := true
		for _, l := range c.listeners {
			addr := "127.0.0.1:" + strconv.Itoa(l.port)
			waitListening(t, addr, nil)
			greets = greets && greeting(addr, patience/4)
		}
		if greets {
			break
		}
		stop()
		if try == 3 {
			t.Fatalf("Postfix instance %s does not greet, three times:\n%s", p.dir, p.log())
		}
		t.Logf("Postfix instance %s does not greet; starting it again. Its log:\n%s", p.dir, p.log())
	}
	t.Cleanup(stop)
}

// greeting tells whether an SMTP server at addr sends its 220 within d.
func greeting(addr string, d time.Duration) bool {
	c, err := net.DialTimeout("tcp", addr, d)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(d))
	b := make([]byte, 4)
	_, err = io.ReadFull(c, b)
	return err == nil && string(b[:3]) == "220"
}

func (p *pfInstance) write(name, text string) {
	p.t.Helper()
	if err := os.WriteFile(filepath.Join(p.conf, name), []byte(text), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// maillog is the path of the instance's log.
func (p *pfInstance) maillog() string { return filepath.Join(p.dir, "maillog") }

func (p *pfInstance) log() string {
	b, _ := os.ReadFile(p.maillog())
	return string(b)
}

// waitLog waits until a line of Postfix's log holds every one of words.
func (p *pfInstance) waitLog(words ...string) string {
	p.t.Helper()
	for deadline := time.Now().Add(patience); ; time.Sleep(50 * time.Millisecond) {
		for _, l := range strings.Split(p.log(), "\n") {
			ok := l != ""
			for _, w := range words {
				ok = ok && strings.Contains(l, w)
			}
			if ok {
				return l
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("Postfix's log has no line with %q after %v:\n%s", words, patience, p.log())
		}
	}
}

// waitListening waits until something accepts TCP connections on addr.
// gone, if not nil, says why the process that should listen there is no
// longer running ("" while it runs): the wait fails at once with that.
func waitListening(t *testing.T, addr string, gone func() string) {
	t.Helper()
	for deadline := time.Now().Add(patience); ; time.Sleep(20 * time.Millisecond) {
		if gone != nil {
			if why := gone(); why != "" {
				t.Fatal(why)
			}
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing accepts on %s after %v", addr, patience)
		}
	}
}
