package cleanup

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"mailhorn/internal/queue"
)

// The actions of smtpd's access(5) restrictions: HOLD, DISCARD, REDIRECT,
// PREPEND, and smtpd_end_of_data_restrictions.
func TestActions(t *testing.T) {
	const body = "Subject: hi\r\n\r\nbody\r\n"
	rcvd := "Received: from client (client [192.0.2.1])\n\tby mx.example.test"
	for _, tc := range []struct {
		name  string
		set   func(m *Message)
		check func(t *testing.T, e *testEnv, id string, err error)
	}{
		{"hold puts the message in hold/", func(m *Message) {
			m.Hold = "<bob@example.com>: Recipient address triggers HOLD action"
		}, func(t *testing.T, e *testEnv, id string, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(e.q.Path(queue.Hold, id)); err != nil {
				t.Errorf("not in hold/: %v", err)
			}
			if len(e.files()) != 0 || len(e.note.ids) != 0 {
				t.Errorf("held message left in incoming (%v) or announced (%v)", e.files(), e.note.ids)
			}
			if !strings.Contains(e.log.String(), id+": hold: <bob@example.com>: Recipient address triggers HOLD action") {
				t.Errorf("log:\n%s", e.log)
			}
		}},
		{"discard queues nothing but returns an ID", func(m *Message) {
			m.Discard = "<bob@example.com>: Recipient address triggers DISCARD action"
		}, func(t *testing.T, e *testEnv, id string, err error) {
			if err != nil || id == "" {
				t.Fatalf("id %q, err %v", id, err)
			}
			if len(e.files()) != 0 || len(e.note.ids) != 0 {
				t.Errorf("discarded message queued: %v %v", e.files(), e.note.ids)
			}
			if !strings.Contains(e.log.String(), id+": discard: <bob@example.com>: Recipient address triggers DISCARD action") {
				t.Errorf("log:\n%s", e.log)
			}
		}},
		{"redirect replaces the recipients", func(m *Message) {
			m.Recipients = append(m.Recipients, Recipient{Address: "carol@example.com"})
			m.Redirect = "spam@example.net"
		}, func(t *testing.T, e *testEnv, id string, err error) {
			if err != nil {
				t.Fatal(err)
			}
			f, _ := e.read(id)
			if len(f.Recipients) != 1 || f.Recipients[0].Address != "spam@example.net" {
				t.Errorf("recipients %+v, want only spam@example.net", f.Recipients)
			}
		}},
		{"prepend adds headers after Received", func(m *Message) {
			m.Received = rcvd
			m.Prepend = []string{"X-Checked: client 192.0.2.1", "X-Two: 2"}
		}, func(t *testing.T, e *testEnv, id string, err error) {
			if err != nil {
				t.Fatal(err)
			}
			_, got := e.read(id)
			want := rcvd + "\nX-Checked: client 192.0.2.1\nX-Two: 2\nSubject: hi\n\nbody\n"
			if got != want {
				t.Errorf("content:\n got %q\nwant %q", got, want)
			}
		}},
		{"end of data rejection queues nothing", func(m *Message) {
			m.EndOfData = func(size int64) *Error {
				if size != int64(len(body)) {
					t.Errorf("EndOfData size %d, want %d", size, len(body))
				}
				return &Error{Code: 554, DSN: "5.7.1", Text: "<END-OF-MESSAGE>: End-of-data rejected: Access denied"}
			}
		}, func(t *testing.T, e *testEnv, id string, err error) {
			var ce *Error
			if !errors.As(err, &ce) || ce.Code != 554 || id != "" {
				t.Fatalf("id %q, err %v: want the 554", id, err)
			}
			if len(e.files()) != 0 || len(e.note.ids) != 0 {
				t.Errorf("rejected message queued: %v %v", e.files(), e.note.ids)
			}
		}},
		{"end of data permits", func(m *Message) {
			m.EndOfData = func(int64) *Error { return nil }
		}, func(t *testing.T, e *testEnv, id string, err error) {
			if err != nil || len(e.files()) != 1 {
				t.Fatalf("err %v, files %v", err, e.files())
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil, DefaultOptions())
			m := simpleMsg("bob@example.com")
			tc.set(m)
			id, err := e.c.Submit(context.Background(), m, strings.NewReader(body))
			tc.check(t, e, id, err)
		})
	}
}
