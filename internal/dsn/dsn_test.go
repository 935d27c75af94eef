package dsn

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sample(kind Kind) *Report {
	t0 := time.Date(2025, 11, 28, 10, 0, 0, 0, time.UTC)
	return &Report{
		Kind:      kind,
		Hostname:  "mx.example.test",
		QueueID:   "0123456789ABC001",
		Arrival:   t0,
		Sender:    "alice@example.test",
		To:        "alice@example.test",
		EnvID:     "env-42",
		MessageID: "<20251128100500.0123456789ABC002@mx.example.test>",
		Date:      t0.Add(5 * time.Minute),
		Recipients: []Recipient{
			{Address: "bob@example.test", Original: "robert@example.test", Status: "5.1.1", Text: "unknown user: bob@example.test"},
			{Address: "carol@remote.test", ORCPT: "rfc822;Carol@Remote.test", Status: "5.7.1", Text: "host mx.remote.test[192.0.2.1] said: 550 5.7.1 denied", RemoteMTA: "mx.remote.test", Diagnostic: "smtp; 550 5.7.1 denied", LastAttempt: t0.Add(4 * time.Minute)},
		},
		SizeLimit: 50000,
	}
}

const original = "Received: from x\nSubject: hello\nMessage-Id: <m1@example.test>\n\nThe body.\n"

func render(t *testing.T, r *Report, orig string) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.Write(&b, strings.NewReader(orig), int64(len(orig))); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestFailureReport(t *testing.T) {
	out := render(t, sample(Failure), original)
	for _, want := range []string{
		"From: MAILER-DAEMON@mx.example.test (Mail Delivery System)\n",
		"Subject: Undelivered Mail Returned to Sender\n",
		"Content-Type: multipart/report; report-type=delivery-status;",
		"This is the mail system at host mx.example.test.",
		"I'm sorry to have to inform you that your message could not",
		"<bob@example.test> (expanded from <robert@example.test>): unknown user: bob@example.test\n",
		"Content-Type: message/delivery-status\n",
		"Reporting-MTA: dns; mx.example.test\n",
		"X-Mailhorn-Queue-ID: 0123456789ABC001\n",
		"Original-Envelope-Id: env-42\n",
		"Arrival-Date: Fri, 28 Nov 2025 10:00:00 +0000\n",
		"Final-Recipient: rfc822; bob@example.test\nOriginal-Recipient: rfc822; robert@example.test\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: X-Mailhorn; unknown user: bob@example.test\n",
		"Final-Recipient: rfc822; carol@remote.test\nOriginal-Recipient: rfc822; Carol@Remote.test\nAction: failed\nStatus: 5.7.1\nRemote-MTA: dns; mx.remote.test\nDiagnostic-Code: smtp; 550 5.7.1 denied\nLast-Attempt-Date: Fri, 28 Nov 2025 10:04:00 +0000\n",
		"Content-Type: message/rfc822\n\n" + original,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestOriginalReturned(t *testing.T) {
	big := "Subject: big\n\n" + strings.Repeat("x", 100) + "\n"
	for _, tc := range []struct {
		name        string
		mod         func(*Report)
		orig        string
		headersOnly bool
	}{
		{"full by default", func(*Report) {}, original, false},
		{"RET=HDRS", func(r *Report) { r.HeadersOnly = true }, original, true},
		{"over bounce_size_limit", func(r *Report) { r.SizeLimit = 50 }, big, true},
		{"delay: headers", func(r *Report) { r.Kind = Delay }, original, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sample(Failure)
			tc.mod(r)
			out := render(t, r, tc.orig)
			hdrs := tc.orig[:strings.Index(tc.orig, "\n\n")+1]
			if tc.headersOnly {
				if !strings.Contains(out, "Content-Type: text/rfc822-headers\n\n"+hdrs+"\n--") {
					t.Errorf("headers not returned alone:\n%s", out)
				}
			} else if !strings.Contains(out, "Content-Type: message/rfc822\n\n"+tc.orig) {
				t.Errorf("message not returned:\n%s", out)
			}
		})
	}
}

func TestDelayReport(t *testing.T) {
	r := sample(Delay)
	r.DelayedFor = 4 * time.Hour
	r.RetryUntil = r.Arrival.Add(5 * 24 * time.Hour)
	out := render(t, r, original)
	for _, want := range []string{
		"Subject: Delayed Mail (still being retried)\n",
		"# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #",
		"Your message could not be delivered for more than 4 hour(s).\nIt will be retried until it is 5 day(s) old.\n",
		"Action: delayed\n",
		"Will-Retry-Until: Wed, 03 Dec 2025 10:00:00 +0000\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// A remote reply cannot add header lines to the report.
func TestNoInjection(t *testing.T) {
	r := sample(Failure)
	r.Recipients[0].Text = "bad\nX-Injected: yes"
	r.Recipients[0].Diagnostic = "smtp; 550 x\r\nX-Injected: yes"
	if out := render(t, r, original); strings.Contains(out, "\nX-Injected") {
		t.Errorf("injected header:\n%s", out)
	}
}

// The report parses with Python's email package, as a mail client would see it.
func TestPythonParses(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed: cannot check the report with Python's email package")
	}
	for _, kind := range []Kind{Failure, Delay, Success, PostmasterCopy} {
		r := sample(kind)
		if kind == PostmasterCopy {
			r.Recipients[0].Address = "bøb@example.test" // utf-8 address type, RFC 6533
		}
		path := filepath.Join(t.TempDir(), "report.eml")
		if err := os.WriteFile(path, []byte(render(t, r, original)), 0o600); err != nil {
			t.Fatal(err)
		}
		script := `
import sys, email, email.policy
m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.default)
assert m.get_content_type() == 'multipart/report', m.get_content_type()
assert m.get_param('report-type') == 'delivery-status'
parts = list(m.iter_parts())
assert len(parts) == 3, len(parts)
assert parts[0].get_content_type() == 'text/plain'
assert parts[1].get_content_type() in ('message/delivery-status', 'message/global-delivery-status'), parts[1].get_content_type()
if parts[1].get_content_type() == 'message/delivery-status':
    blocks = parts[1].get_payload()
    assert blocks[0]['Reporting-MTA'] == 'dns; mx.example.test'
    assert len(blocks) == 3, len(blocks)
    assert blocks[1]['Status'] is not None
assert parts[2].get_content_type() in ('message/rfc822', 'text/rfc822-headers')
if parts[2].get_content_type() == 'message/rfc822':
    inner = parts[2].get_payload()[0]
    assert inner['Subject'] == 'hello', inner['Subject']
print('ok')
`
		out, err := exec.Command(py, "-c", script, path).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "ok" {
			t.Errorf("kind %d: python: %v\n%s", kind, err, out)
		}
	}
}
