// Package delivertest helps the tests of delivery agents: it builds
// delivery requests over real files laid out like queue files.
package delivertest

import (
	"os"
	"path/filepath"
	"testing"

	"mailhorn/internal/deliver"
)

// Request builds a request from alice@remote.test for rcpts (indexes 0,
// 1, ...) over a file with junk around content, as in a queue file, so
// that an agent reading past the content or from its start is caught.
func Request(t testing.TB, content string, rcpts ...string) *deliver.Request {
	t.Helper()
	path := filepath.Join(t.TempDir(), "qf")
	if err := os.WriteFile(path, []byte("HEAD"+content+"TAIL"), 0o600); err != nil {
		t.Fatal(err)
	}
	req := &deliver.Request{QueueID: "0123456789ABC001", Sender: "alice@remote.test", Path: path, ContentOffset: 4, ContentSize: int64(len(content))}
	for i, r := range rcpts {
		req.Recipients = append(req.Recipients, deliver.Recipient{Index: i, Address: r})
	}
	return req
}
