package maillog

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLines(t *testing.T) {
	var buf bytes.Buffer
	at := time.Date(2026, 11, 8, 14, 52, 51, 0, time.Local)
	l := New(&buf, "mailhorn", "mx.example.test").WithClock(func() time.Time { return at })
	smtpd := l.Service("smtpd")
	smtpd.Connect(Client("localhost", "127.0.0.1"))
	smtpd.QueuedClient("6457F2A1C04D2001", Client("localhost", "127.0.0.1"), "")
	smtpd.Reject("", "RCPT", Client("", "192.0.2.1"), "550 5.1.1 <x@example.test>: Recipient address rejected: User unknown", "a@b", "x@example.test", "ESMTP", "c\r\nfake")
	v := l.Service("virtual")
	v.Deliver(Delivery{ID: "6457F2A1C04D2001", To: "bob@example.test", OrigTo: "Bob@example.test", Relay: "virtual",
		Arrival: at.Add(-1500 * time.Millisecond), Delays: [4]time.Duration{10 * time.Millisecond, 0, 0, 1490 * time.Millisecond},
		DSN: "2.0.0", Status: "sent", Detail: "delivered to maildir"})
	l.Service("qmgr").Removed("6457F2A1C04D2001")

	want := []string{
		"Nov  8 14:52:51 mx mailhorn/smtpd[PID]: connect from localhost[127.0.0.1]",
		"Nov  8 14:52:51 mx mailhorn/smtpd[PID]: 6457F2A1C04D2001: client=localhost[127.0.0.1]",
		"Nov  8 14:52:51 mx mailhorn/smtpd[PID]: NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 550 5.1.1 <x@example.test>: Recipient address rejected: User unknown; from=<a@b> to=<x@example.test> proto=ESMTP helo=<c??fake>",
		"Nov  8 14:52:51 mx mailhorn/virtual[PID]: 6457F2A1C04D2001: to=<bob@example.test>, orig_to=<Bob@example.test>, relay=virtual, delay=1.5, delays=0.01/0/0/1.49, dsn=2.0.0, status=sent (delivered to maildir)",
		"Nov  8 14:52:51 mx mailhorn/qmgr[PID]: 6457F2A1C04D2001: removed",
	}
	got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	pid := "[" + strconv.Itoa(l.pid) + "]"
	for i := range want {
		w := strings.Replace(want[i], "[PID]", pid, 1)
		if i >= len(got) || got[i] != w {
			t.Errorf("line %d:\n got %q\nwant %q", i, got[min(i, len(got)-1)], w)
		}
	}
}

func TestSeconds(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0"}, {time.Millisecond, "0"}, {10 * time.Millisecond, "0.01"}, {1500 * time.Millisecond, "1.5"},
		{2 * time.Second, "2"}, {12600 * time.Millisecond, "13"},
	} {
		if got := seconds(tc.d); got != tc.want {
			t.Errorf("seconds(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
