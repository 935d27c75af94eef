package e2e

import (
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestSwaksDelivers: one message from swaks lands in the Maildir with the
// headers a delivery agent adds, and the mail log tells its story in
// Postfix's words.
func TestSwaksDelivers(t *testing.T) {
	t.Parallel()
	swaks := needTool(t, "swaks")
	s := newSystem(t, options{})
	s.start()
	out, err := exec.Command(swaks, "--server", s.addr(), "--helo", "client.example.net",
		"--from", "carol@example.net", "--to", "alice@"+domain,
		"--header", "Message-Id: <swaks-1@e2e.test>", "--body", "hello from swaks").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`<-  250 2\.0\.0 Ok: queued as (\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("swaks: no \"250 2.0.0 Ok: queued as ID\":\n%s", out)
	}
	id := string(m[1])

	msgs := s.waitDelivered(1)
	got := msgs[0]
	if got.user != "alice" || !strings.Contains(got.path, "/alice/new/") {
		t.Errorf("delivered to %s, want alice's Maildir new/", got.path)
	}
	if !strings.HasPrefix(got.raw, "Return-Path: <carol@example.net>\nDelivered-To: alice@"+domain+"\n") {
		t.Errorf("message does not start with Return-Path and Delivered-To:\n%s", got.raw)
	}
	if !regexp.MustCompile(`(?m)^Received: from client\.example\.net \(localhost \[127\.0\.0\.1\]\)\n\tby mail\.example\.test`).MatchString(got.raw) {
		t.Errorf("no Received header naming the client and us:\n%s", got.raw)
	}
	if got.msgID != "<swaks-1@e2e.test>" || !strings.Contains(got.raw, "\n\nhello from swaks") {
		t.Errorf("not the message swaks sent:\n%s", got.raw)
	}

	s.waitLog(id + ": removed")
	for _, re := range []string{
		`mailhorn/smtpd\[\d+\]: ` + id + `: client=localhost\[127\.0\.0\.1\]$`,
		`mailhorn/cleanup\[\d+\]: ` + id + `: message-id=<swaks-1@e2e\.test>$`,
		`mailhorn/qmgr\[\d+\]: ` + id + `: from=<carol@example\.net>, size=\d+, nrcpt=1 \(queue active\)$`,
		`mailhorn/virtual\[\d+\]: ` + id + `: to=<alice@example\.test>, relay=virtual, delay=[\d.]+, delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+, dsn=2\.0\.0, status=sent \(delivered to maildir\)$`,
		`mailhorn/qmgr\[\d+\]: ` + id + `: removed$`,
	} {
		if !regexp.MustCompile(`(?m)` + re).MatchString(s.maillog()) {
			t.Errorf("mail log has no line matching %s", re)
		}
	}
	s.stop()
}

// pythonClient sends one message with smtplib's send_message, then a
// pipelined sequence (RFC 2920) over a raw socket: two transactions, the
// second's commands written in the same packet as the first's end of data.
const pythonClient = `
import smtplib, socket, sys
from email.message import EmailMessage

port = int(sys.argv[1])
with smtplib.SMTP("127.0.0.1", port, local_hostname="py.e2e.test") as s:
    m = EmailMessage()
    m["From"] = "py@py.example"
    m["To"] = "alice@example.test"
    m["Subject"] = "from smtplib"
    m["Message-ID"] = "<py-1@e2e.test>"
    m.set_content("hello from smtplib\n.a line with a leading dot\n")
    refused = s.send_message(m)
    assert refused == {}, refused

sock = socket.create_connection(("127.0.0.1", port))
f = sock.makefile("rb")

def reply():
    lines = []
    while True:
        l = f.readline().decode()
        assert l, "connection closed"
        lines.append(l.rstrip("\r\n"))
        if l[3:4] != "-":
            return int(l[:3]), "\n".join(lines)

def expect(*codes):
    for want in codes:
        code, text = reply()
        assert code == want, (want, text)
        last = text
    return last

expect(220)
sock.sendall(b"EHLO py.e2e.test\r\n")
assert "PIPELINING" in expect(250)
sock.sendall(b"MAIL FROM:<py@py.example>\r\nRCPT TO:<alice@example.test>\r\n"
             b"RCPT TO:<nosuch@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
expect(250, 250, 550, 250, 354)
sock.sendall(b"Subject: pipelined 2\r\nMessage-ID: <py-2@e2e.test>\r\n\r\nsecond\r\n.\r\n"
             b"MAIL FROM:<py@py.example>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
print(expect(250).split()[-1])
expect(250, 250, 354)
sock.sendall(b"Subject: pipelined 3\r\nMessage-ID: <py-3@e2e.test>\r\n\r\nthird\r\n.\r\nQUIT\r\n")
print(expect(250).split()[-1])
expect(221)
`

// TestPythonSmtplib: Python's smtplib and a pipelined raw session deliver.
func TestPythonSmtplib(t *testing.T) {
	t.Parallel()
	py := needTool(t, "python3")
	s := newSystem(t, options{})
	s.start()
	out, err := exec.Command(py, "-c", pythonClient, strconv.Itoa(s.port)).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	msgs := s.waitDelivered(4)
	var got []string
	for _, m := range msgs {
		got = append(got, m.user+" "+m.msgID)
		if m.msgID == "<py-1@e2e.test>" && !strings.Contains(m.raw, "\n.a line with a leading dot\n") {
			t.Errorf("dot-stuffing lost the leading dot:\n%s", m.raw)
		}
	}
	sort.Strings(got)
	want := []string{"alice <py-1@e2e.test>", "alice <py-2@e2e.test>", "bob <py-2@e2e.test>", "bob <py-3@e2e.test>"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("delivered:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, id := range strings.Fields(string(out)) {
		s.waitLog(id + ": removed")
	}
	s.stop()
}
