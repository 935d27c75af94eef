package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// msmtp, a real submission client, sends to the SMTP server.
func TestMsmtp(t *testing.T) {
	msmtp := needTool(t, "msmtp")
	s := newSystem(t, options{})
	s.writeMasterCF()
	s.start()
	defer s.stop()
	cmd := exec.Command(msmtp, "--host=127.0.0.1", fmt.Sprintf("--port=%d", s.port), "--auth=off", "--tls=off",
		"--from=carol@example.net", "--", "alice@"+domain)
	cmd.Stdin = strings.NewReader("From: carol@example.net\nTo: alice@" + domain + "\nSubject: msmtp\nMessage-ID: <msmtp@e2e.test>\n\nvia msmtp\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("msmtp: %v: %s", err, out)
	}
	msgs := s.waitDelivered(1)
	if msgs[0].user != "alice" || msgs[0].msgID != "<msmtp@e2e.test>" {
		t.Errorf("delivered %s %s", msgs[0].user, msgs[0].msgID)
	}
}

// Python's smtplib speaks SMTP to `sendmail -bs` over its standard input
// and output, as programs that embed an SMTP client do with a local MTA.
func TestSmtplibThroughSendmailBs(t *testing.T) {
	py := needTool(t, "python3")
	s := newSystem(t, options{})
	s.writeMasterCF()
	s.start()
	defer s.stop()
	script := `
import smtplib, socket, subprocess, sys
bin, etc, rcpt = sys.argv[1:4]
a, b = socket.socketpair()
p = subprocess.Popen([bin, "sendmail", "-c", etc, "-bs"], stdin=b, stdout=b)
b.close()
class Pipe(smtplib.SMTP):
    def _get_socket(self, host, port, timeout):
        return a
s = Pipe()
code, _ = s.connect("localhost", 25)
assert code == 220, code
s.sendmail("carol@example.net", [rcpt], "Subject: smtplib -bs\r\nMessage-ID: <bs@e2e.test>\r\n\r\nthrough sendmail -bs\r\n")
s.quit()
sys.exit(p.wait())
`
	// Run as the test runs (the Python found may live in a home that the
	// unprivileged account cannot reach).
	cmd := exec.Command(py, "-c", script, mailhornBin, s.etc, "bob@"+domain)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("smtplib through sendmail -bs: %v: %s", err, out)
	}
	msgs := s.waitDelivered(1)
	if msgs[0].user != "bob" || msgs[0].msgID != "<bs@e2e.test>" || !strings.Contains(msgs[0].raw, "through sendmail -bs") {
		t.Errorf("delivered %s %s:\n%s", msgs[0].user, msgs[0].msgID, msgs[0].raw)
	}
	s.waitLog("mailhorn/pickup", "from=<carol@example.net>")
}
