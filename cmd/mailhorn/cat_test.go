package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailhorn/internal/queue"
)

func TestCat(t *testing.T) {
	conf, q := queueSetup(t)
	content := "Subject: hello\nX-Long: a\n  continued\n\nbody line 1\nFrom: not a header\n"
	id := queueMsg(t, q, "alice@example.org", content,
		queue.Recipient{Address: "bob@example.net", Original: "robert@example.net", ORCPT: "rfc822;robert@example.net", Notify: queue.NotifyFailure | queue.NotifyDelay},
		queue.Recipient{Address: "carol@example.net", Status: queue.StatusDone})
	if err := q.Move(id, queue.Incoming, queue.Deferred); err != nil {
		t.Fatal(err)
	}
	deferIt(t, q, queue.Deferred, id, map[int]string{0: "connect to example.net: Connection refused"})
	rel := filepath.Join("deferred", queue.HashDir(id), id)

	out, errOut, code := runCommand(t, runCat, "", "-c", conf, "-q", id)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := "*** ENVELOPE RECORDS " + rel + " ***\n" +
		"message_size: "
	if !strings.HasPrefix(out, want) {
		t.Fatalf("output starts:\n%s", out)
	}
	for _, w := range []string{
		"message_arrival_time: Fri Nov 28 15:21:58 2025\n",
		"sender: alice@example.org\n",
		"named_attribute: client_name=localhost\n",
		"original_recipient: robert@example.net\ndsn_orig_rcpt: rfc822;robert@example.net\ndsn_notify: 12\nrecipient: bob@example.net\n",
		"done_recipient: carol@example.net\n",
		"*** MESSAGE CONTENTS " + rel + " ***\n" + content + "*** HEADER EXTRACTED " + rel + " ***\n",
		"delay_reason: bob@example.net: 4.4.1 connect to example.net: Connection refused",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("no %q in:\n%s", w, out)
		}
	}
	if !strings.HasSuffix(out, "*** MESSAGE FILE END "+rel+" ***\n") {
		t.Errorf("output ends:\n%s", out)
	}

	// -h: headers only; -b: the body from the first non-header line.
	out, _, _ = runCommand(t, runCat, "", "-c", conf, "-q", "-h", id)
	if out != "Subject: hello\nX-Long: a\n  continued\n" {
		t.Errorf("-h: %q", out)
	}
	out, _, _ = runCommand(t, runCat, "", "-c", conf, "-q", "-b", id)
	if out != "\nbody line 1\nFrom: not a header\n" {
		t.Errorf("-b: %q", out)
	}
	// -e -o: offsets, the recipient's matching the file.
	out, _, _ = runCommand(t, runCat, "", "-c", conf, "-q", "-e", "-o", id)
	if strings.Contains(out, "body line") || !strings.Contains(out, "        4 message_arrival_time:") {
		t.Errorf("-e -o:\n%s", out)
	}
	f, err := q.Read(queue.Deferred, id)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(q.Path(queue.Deferred, id))
	for _, l := range strings.Split(out, "\n") {
		if strings.HasSuffix(l, "recipient: bob@example.net") && strings.HasPrefix(l, " ") {
			var off int
			if _, err := fmt.Sscan(l, &off); err != nil || raw[off] != 'R' || int64(off) >= f.Recipients[0].Offset() {
				t.Errorf("recipient offset in %q (status at %d)", l, f.Recipients[0].Offset())
			}
		}
	}

	// A file path, and errors.
	out, _, code = runCommand(t, runCat, "", q.Path(queue.Deferred, id))
	if code != 0 || !strings.Contains(out, "*** ENVELOPE RECORDS "+q.Path(queue.Deferred, id)) {
		t.Errorf("by path: %d\n%s", code, out)
	}
	junk := writeFile(t, t.TempDir(), "junk", "not a queue file at all")
	if _, errOut, code := runCommand(t, runCat, "", junk); code != 1 || !strings.Contains(errOut, "input is not a valid queue file") {
		t.Errorf("junk: %d %q", code, errOut)
	}
	if _, errOut, code := runCommand(t, runCat, "", "-c", conf, "-q", "0123456789ABC001"); code != 1 || !strings.Contains(errOut, "no such queue file") {
		t.Errorf("missing ID: %d %q", code, errOut)
	}
}
