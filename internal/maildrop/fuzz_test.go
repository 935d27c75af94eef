package maildrop

import (
	"bytes"
	"testing"

	"mailhorn/internal/queue"
)

// FuzzDecode: the reader of untrusted maildrop files never panics, and
// what it accepts satisfies its rules.
func FuzzDecode(f *testing.F) {
	f.Add(encode(&queue.Envelope{Arrival: testNow, Sender: "s@x", Attrs: []queue.Attr{{Name: AttrSenderGiven, Value: "yes"}, {Name: "envid", Value: "x"}}},
		[]queue.Recipient{{Address: "a@x", Notify: queue.NotifyFailure}}, "Subject: x\n\nbody\n"))
	f.Add(encode(&queue.Envelope{Arrival: testNow, Attrs: []queue.Attr{{Name: AttrFullName, Value: "Joe"}}},
		[]queue.Recipient{{Address: "a"}, {Address: ""}}, ""))
	f.Add([]byte("MHQ1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		mf, err := Decode(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		if mf.ContentOffset < 0 || mf.ContentOffset+mf.ContentSize > int64(len(b)) || len(mf.Recipients) == 0 {
			t.Fatalf("accepted a bad file: %+v", mf)
		}
		for _, r := range mf.Recipients {
			if err := checkRecipient(r); err != nil {
				t.Fatalf("accepted recipient: %v", err)
			}
		}
		if !mf.SenderGiven && mf.Sender != "" {
			t.Fatalf("sender %q without sender_given", mf.Sender)
		}
	})
}
