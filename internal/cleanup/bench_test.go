package cleanup

import (
	"context"
	"strings"
	"testing"

	"mailhorn/internal/queue"
)

// BenchmarkSubmit4K measures one submission of a 4 KB message from a remote
// client, queue file commit (fsync of file and directory) included.
func BenchmarkSubmit4K(b *testing.B) {
	q, err := queue.Open(b.TempDir(), queue.NewIDSource(3, nil))
	if err != nil {
		b.Fatal(err)
	}
	c := New(q, &fakeRewriter{}, nil, nil, DefaultOptions())
	var sb strings.Builder
	sb.WriteString("Received: from client.example.org (client.example.org [192.0.2.1])\r\n\tby mx.example.test (mailhorn) with ESMTP id 0\r\n\tfor <bob@example.com>; Tue,  5 Mar 2024 14:07:09 +0100 (CET)\r\n")
	sb.WriteString("From: Alice <alice@example.org>\r\nTo: Bob <bob@example.com>\r\nSubject: benchmark\r\nDate: Tue, 5 Mar 2024 14:07:09 +0100\r\nMessage-ID: <bench@example.org>\r\n\r\n")
	for sb.Len() < 4096 {
		sb.WriteString("The quick brown fox jumps over the lazy dog, again and again and again.\r\n")
	}
	msg := sb.String()[:4094] + "\r\n"
	m := simpleMsg("bob@example.com")
	m.Received = "Received: from c by mx.example.test"
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Submit(context.Background(), m, strings.NewReader(msg)); err != nil {
			b.Fatal(err)
		}
	}
}
