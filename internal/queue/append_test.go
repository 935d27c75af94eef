package queue

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func (m *memFile) Truncate(n int64) error {
	if n < int64(len(m.b)) {
		m.b = m.b[:n]
	}
	return nil
}

func withAppended(t testing.TB) (*memFile, int64) {
	m := encode(t, sampleEnvelope(), "Subject: x\n\nbody\n")
	end := int64(len(m.b))
	a := &Appender{}
	a.Defer(Defer{Index: 1, Time: time.UnixMicro(5), DSN: "4.4.1", Relay: "mx[192.0.2.1]:25", Text: "timed out", Remote: ""})
	a.Retry(time.UnixMicro(6), 300*time.Second)
	a.DelayWarned(time.UnixMicro(7))
	end, err := a.WriteTo(m, end)
	if err != nil {
		t.Fatal(err)
	}
	return m, end
}

func TestAppended(t *testing.T) {
	m, end := withAppended(t)
	f, err := Decode(m, int64(len(m.b)))
	if err != nil {
		t.Fatal(err)
	}
	if d := f.Defers[1]; d.DSN != "4.4.1" || d.Text != "timed out" || d.Relay != "mx[192.0.2.1]:25" || !d.Time.Equal(time.UnixMicro(5)) {
		t.Errorf("defer %+v", f.Defers)
	}
	if f.Backoff != 300*time.Second || !f.LastAttempt.Equal(time.UnixMicro(6)) || !f.DelayWarned || f.End != end {
		t.Errorf("file %+v", f)
	}

	// A later deferral replaces the reason; a crash in the middle of an
	// append leaves a cut record that is ignored and then overwritten.
	a := &Appender{}
	a.Defer(Defer{Index: 1, Time: time.UnixMicro(9), DSN: "4.2.0", Text: "second"})
	full := append([]byte(nil), m.b...)
	if _, err := a.WriteTo(m, end); err != nil {
		t.Fatal(err)
	}
	whole := append([]byte(nil), m.b...)
	for cut := len(full); cut < len(whole); cut++ {
		f, err := Decode(bytes.NewReader(whole[:cut]), int64(cut))
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if f.Defers[1].Text != "timed out" || f.End != end {
			t.Fatalf("cut at %d: %+v end %d", cut, f.Defers, f.End)
		}
	}
	m.b = whole[:len(whole)-2]
	if _, err := a.WriteTo(m, end); err != nil {
		t.Fatal(err)
	}
	if f, err := Decode(m, int64(len(m.b))); err != nil || f.Defers[1].Text != "second" {
		t.Errorf("after rewrite: %v %+v", err, f)
	}

	// Garbage after the end record is corruption, not a message.
	bad := append(append([]byte(nil), full...), 'Z', 1, 'x')
	if _, err := Decode(bytes.NewReader(bad), int64(len(bad))); !errors.Is(err, ErrCorrupt) {
		t.Errorf("unknown appended record: %v", err)
	}
}
