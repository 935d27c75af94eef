package queue

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// memFile is an in-memory io.WriterAt / io.ReaderAt.
type memFile struct{ b []byte }

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	if need := int(off) + len(p); need > len(m.b) {
		m.b = append(m.b, make([]byte, need-len(m.b))...)
	}
	copy(m.b[off:], p)
	return len(p), nil
}

func (m *memFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m.b)) {
		return 0, io.EOF
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func encode(t testing.TB, env *Envelope, content string) *memFile {
	t.Helper()
	m := &memFile{}
	e := NewEncoder(m, env)
	if _, err := io.WriteString(e.Content(), content); err != nil {
		t.Fatal(err)
	}
	e.EndContent()
	for _, r := range env.Recipients {
		e.AddRecipient(r)
	}
	if err := e.Finish(); err != nil {
		t.Fatal(err)
	}
	if e.Size() != int64(len(m.b)) {
		t.Fatalf("Size %d, file %d", e.Size(), len(m.b))
	}
	return m
}

func sampleEnvelope() *Envelope {
	return &Envelope{
		Arrival: time.UnixMicro(1764340000123456),
		Sender:  "alice@example.test",
		Attrs: []Attr{
			{AttrClientName, "client.example"},
			{AttrClientAddr, "127.0.0.1"},
			{AttrEnvID, "x=y"},
		},
		Recipients: []Recipient{
			{Address: "bob@example.test", Notify: NotifyFailure | NotifyDelay},
			{Address: "carol@example.test", Original: "Carol@Example.test", ORCPT: "rfc822;Carol@Example.test"},
		},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     *Envelope
		content string
	}{
		{"sample", sampleEnvelope(), "Subject: hi\n\nbody\n"},
		{"null sender, empty content", &Envelope{Arrival: time.UnixMicro(1), Recipients: []Recipient{{Address: "postmaster"}}}, ""},
		{"binary content", sampleEnvelope(), "a\x00b\r\n\xff" + strings.Repeat("x", 70000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := encode(t, tc.env, tc.content)
			f, err := Decode(m, int64(len(m.b)))
			if err != nil {
				t.Fatal(err)
			}
			if !f.Arrival.Equal(tc.env.Arrival) || f.Sender != tc.env.Sender || len(f.Attrs) != len(tc.env.Attrs) {
				t.Errorf("envelope %+v, want %+v", f.Envelope, tc.env)
			}
			got := string(m.b[f.ContentOffset : f.ContentOffset+f.ContentSize])
			if got != tc.content {
				t.Errorf("content %q, want %q", got, tc.content)
			}
			if len(f.Recipients) != len(tc.env.Recipients) {
				t.Fatalf("%d recipients, want %d", len(f.Recipients), len(tc.env.Recipients))
			}
			for i, r := range f.Recipients {
				w := tc.env.Recipients[i]
				if r.Address != w.Address || r.Original != w.Original || r.ORCPT != w.ORCPT || r.Notify != w.Notify || r.Status != StatusPending {
					t.Errorf("recipient %d = %+v, want %+v", i, r, w)
				}
			}
		})
	}
}

func TestMarkDone(t *testing.T) {
	m := encode(t, sampleEnvelope(), "x\n")
	f, err := Decode(m, int64(len(m.b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := MarkDone(m, f.Recipients[1]); err != nil {
		t.Fatal(err)
	}
	g, err := Decode(m, int64(len(m.b)))
	if err != nil {
		t.Fatal(err)
	}
	if g.Recipients[0].Status != StatusPending || g.Recipients[1].Status != StatusDone {
		t.Errorf("statuses %c %c, want P D", g.Recipients[0].Status, g.Recipients[1].Status)
	}
	if err := MarkDone(m, g.Recipients[1]); !errors.Is(err, ErrNotPending) {
		t.Errorf("second MarkDone: %v, want ErrNotPending", err)
	}
}

// A file cut anywhere short of its end record is incomplete or corrupt, never
// a message.
func TestTruncated(t *testing.T) {
	m := encode(t, sampleEnvelope(), "Subject: hi\n\nbody\n")
	for n := 0; n < len(m.b); n++ {
		_, err := Decode(bytes.NewReader(m.b[:n]), int64(n))
		if !errors.Is(err, ErrIncomplete) && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("cut at %d: err %v", n, err)
		}
	}
}

func TestCorrupt(t *testing.T) {
	good := encode(t, sampleEnvelope(), "x\n").b
	for _, tc := range []struct {
		name string
		mod  func([]byte) []byte
	}{
		{"bad magic", func(b []byte) []byte { b[0] = 'X'; return b }},
		{"unknown record", func(b []byte) []byte { b[4] = 'Z'; return b }},
		{"bad status", func(b []byte) []byte {
			i := bytes.Index(b, []byte("bob@"))
			b[i-2] = 'Q'
			return b
		}},
	} {
		b := tc.mod(append([]byte(nil), good...))
		if _, err := Decode(bytes.NewReader(b), int64(len(b))); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err %v, want ErrCorrupt", tc.name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(f, sampleEnvelope(), "Subject: x\n\nbody\n").b)
	f.Add([]byte(magic))
	appended, _ := withAppended(f)
	f.Add(appended.b)
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Decode(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrIncomplete) {
				t.Fatalf("error %v is neither corrupt nor incomplete", err)
			}
			return
		}
		if file.ContentOffset < 0 || file.ContentOffset+file.ContentSize > int64(len(b)) {
			t.Fatalf("content %d+%d outside %d bytes", file.ContentOffset, file.ContentSize, len(b))
		}
		for _, r := range file.Recipients {
			if r.offset <= 0 || r.offset >= int64(len(b)) || b[r.offset] != r.Status {
				t.Fatalf("recipient %+v: bad status offset", r)
			}
		}
	})
}
