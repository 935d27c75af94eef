package maillog

import (
	"bytes"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	at := time.Date(2026, 11, 8, 14, 52, 51, 0, time.Local)
	l := New(&buf, "mailhorn", "mx").WithClock(func() time.Time { return at })
	log := slog.New(l.Service("master").Handler())
	log.Info("daemon started -- version 0.1.0, configuration /etc/mailhorn")
	log.Warn("recipient lookup", "rcpt", "a@b", "err", "table down")
	log.With("service", "smtp").Error("accept failed", "err", "too many open files")
	log.Debug("not shown")
	got := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		"mailhorn/master[PID]: daemon started -- version 0.1.0, configuration /etc/mailhorn",
		`mailhorn/master[PID]: warning: recipient lookup rcpt=a@b err="table down"`,
		`mailhorn/master[PID]: error: accept failed service=smtp err="too many open files"`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines:\n%s", len(got), buf.String())
	}
	for i := range want {
		if _, rest, _ := strings.Cut(got[i], "mx "); strings.Replace(rest, "["+strconv.Itoa(l.pid)+"]", "[PID]", 1) != want[i] {
			t.Errorf("line %d: %q, want %q", i, got[i], want[i])
		}
	}
}
