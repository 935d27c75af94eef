package e2e

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

// TestPflogsumm: pflogsumm, the usual Postfix log summariser, reads the
// mail log and counts right what happened: N messages received and
// delivered, and the rejections.
func TestPflogsumm(t *testing.T) {
	t.Parallel()
	pflogsumm := needTool(t, "pflogsumm")
	s := newSystem(t, options{mainCF: "mynetworks = 192.0.2.0/24\n"})
	s.start()

	const n = 5
	c := dial(t, s.addr())
	c.cmd("EHLO client.example.net", 250, "")
	for i := 0; i < n; i++ {
		to := []string{"alice", "bob"}[i%2] + "@" + domain
		id := c.sendMail("carol@example.net", []string{to}, testMessage("carol@example.net", to, fmt.Sprintf("<sum-%d@e2e.test>", i), "summary"))
		s.waitLog(id + ": removed")
	}
	const rejected = 3
	c.cmd("MAIL FROM:<carol@example.net>", 250, "")
	c.cmd("RCPT TO:<nosuch@"+domain+">", 550, "5.1.1")
	c.cmd("RCPT TO:<other@"+domain+">", 550, "5.1.1")
	c.cmd("RCPT TO:<someone@elsewhere.example>", 554, "5.7.1")
	c.cmd("QUIT", 221, "")
	s.waitDelivered(n)
	s.stop()

	// The log says mailhorn/smtpd[pid], as Postfix's would with
	// syslog_name = mailhorn.
	out, err := exec.Command(pflogsumm, "--detail", "0", "--syslog-name=mailhorn", s.path("log/maillog")).CombinedOutput()
	if err != nil {
		t.Fatalf("pflogsumm: %v\n%s", err, out)
	}
	for _, want := range []struct {
		what  string
		count int
	}{
		{"received", n},
		{"delivered", n},
		{"forwarded", 0},
		{"deferred", 0},
		{"bounced", 0},
		{"rejected", rejected},
		{"senders", 1},
		{"sending hosts/domains", 1},
		{"recipients", 2},
		{"recipient hosts/domains", 1},
	} {
		m := regexp.MustCompile(`(?m)^\s+(\d+)\s+` + regexp.QuoteMeta(want.what) + `\b`).FindSubmatch(out)
		if m == nil {
			t.Errorf("pflogsumm: no %q count in:\n%s", want.what, out)
			continue
		}
		if got, _ := strconv.Atoi(string(m[1])); got != want.count {
			t.Errorf("pflogsumm: %d %s, want %d", got, want.what, want.count)
		}
	}
	if t.Failed() {
		t.Logf("pflogsumm output:\n%s", out)
	}
}
