package e2e

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// mboxMessage is one message of an mbox file as Python's mailbox.mbox
// reads it.
type mboxMessage struct {
	From      string `json:"from"` // the "From " line, without "From "
	MessageID string `json:"message_id"`
	Subject   string `json:"subject"`
	Delivered string `json:"delivered_to"`
	Body      string `json:"body"`
}

const pyMbox = `
import json, mailbox, sys
out = []
for m in mailbox.mbox(sys.argv[1], create=False):
    body = m.get_payload()
    out.append({"from": m.get_from(), "message_id": m.get("Message-ID", ""),
                "subject": m.get("Subject", ""), "delivered_to": m.get("Delivered-To", ""),
                "body": body if isinstance(body, str) else ""})
print(json.dumps(out))
`

// readMbox parses an mbox file with Python's mailbox module: an
// independent reader of the format.
func readMbox(t *testing.T, path string) []mboxMessage {
	t.Helper()
	py := needTool(t, "python3")
	out, err := exec.Command(py, "-c", pyMbox, path).CombinedOutput()
	if err != nil {
		t.Fatalf("python mailbox.mbox %s: %v\n%s", path, err, out)
	}
	var msgs []mboxMessage
	if err := json.Unmarshal(out, &msgs); err != nil {
		t.Fatalf("python mailbox.mbox %s: %v\n%s", path, err, out)
	}
	return msgs
}

// snailHeaders lists an mbox file's messages with s-nail (the mailx that
// Debian ships), one summary line per message.
func snailHeaders(t *testing.T, path string) []string {
	t.Helper()
	snail := needTool(t, "s-nail")
	cmd := exec.Command(snail, "-N", "-n", "-R", "-H", "-f", path)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent", "LC_ALL=C", "MAILRC=/dev/null"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("s-nail -H -f %s: %v\n%s", path, err, out)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	return lines
}
