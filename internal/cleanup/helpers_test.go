package cleanup

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mailhorn/internal/maillog"
	"mailhorn/internal/queue"
)

// fakeRewriter completes addresses without a domain with @local.test (local
// context) or @remote.test (remote context), then applies its tables.
type fakeRewriter struct {
	canonical map[string]string   // by address, any class
	header    map[string]string   // header classes only
	virtual   map[string][]string // virtual_alias_maps
	fail      map[string]error    // addresses whose lookup fails
}

func (f *fakeRewriter) Canonical(ctx context.Context, addr string, class Class, local bool) (string, error) {
	if err := f.fail[addr]; err != nil {
		return "", err
	}
	if !strings.Contains(addr, "@") {
		if local {
			addr += "@local.test"
		} else {
			addr += "@remote.test"
		}
	}
	if v, ok := f.canonical[addr]; ok {
		addr = v
	}
	if class == HeaderSender || class == HeaderRecipient {
		if v, ok := f.header[addr]; ok {
			addr = v
		}
	}
	return addr, nil
}

func (f *fakeRewriter) ExpandVirtual(ctx context.Context, addr string) ([]string, error) {
	if err := f.fail["virtual:"+addr]; err != nil {
		return nil, err
	}
	if v, ok := f.virtual[addr]; ok {
		return v, nil
	}
	return []string{addr}, nil
}

type fakeNotifier struct {
	mu  sync.Mutex
	ids []string
}

func (n *fakeNotifier) Queued(id string) {
	n.mu.Lock()
	n.ids = append(n.ids, id)
	n.mu.Unlock()
}

// testClock is a fixed arrival time: 2024-03-05 14:07:09 CET.
var testTime = time.Date(2024, 3, 5, 14, 7, 9, 0, time.FixedZone("CET", 3600))

type testEnv struct {
	t    *testing.T
	q    *queue.Queue
	c    *Cleanup
	log  *bytes.Buffer
	note *fakeNotifier
}

func newEnv(t *testing.T, rw Rewriter, opt Options) *testEnv {
	t.Helper()
	dir := t.TempDir()
	q, err := queue.Open(dir, queue.NewIDSource(1, nil))
	if err != nil {
		t.Fatal(err)
	}
	if opt.Now == nil {
		opt.Now = func() time.Time { return testTime }
	}
	opt.Hostname = "mx.example.test"
	var logBuf bytes.Buffer
	lg := maillog.New(&logBuf, "mailhorn", "mx").WithClock(func() time.Time { return testTime })
	n := &fakeNotifier{}
	if rw == nil {
		rw = &fakeRewriter{}
	}
	return &testEnv{t: t, q: q, c: New(q, rw, n, lg.Service("cleanup"), opt), log: &logBuf, note: n}
}

// read decodes the queue file of id and returns it with its content.
func (e *testEnv) read(id string) (*queue.File, string) {
	e.t.Helper()
	path := e.q.Path(queue.Incoming, id)
	f, err := os.Open(path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		e.t.Fatal(err)
	}
	qf, err := queue.Decode(f, st.Size())
	if err != nil {
		e.t.Fatalf("decode %s: %v", id, err)
	}
	content := make([]byte, qf.ContentSize)
	if _, err := f.ReadAt(content, qf.ContentOffset); err != nil {
		e.t.Fatal(err)
	}
	return qf, string(content)
}

// files lists the queue files left in incoming/.
func (e *testEnv) files() []string {
	e.t.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(e.q.Dir(), queue.Incoming), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func simpleMsg(rcpts ...string) *Message {
	m := &Message{Sender: "alice@example.org"}
	for _, r := range rcpts {
		m.Recipients = append(m.Recipients, Recipient{Address: r})
	}
	return m
}

// failingReader returns data, then an error.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

var errDisk = errors.New("disk on fire")

var _ io.Reader = (*failingReader)(nil)

func pidString() string { return strconv.Itoa(os.Getpid()) }

// withoutAdded removes the Message-Id:, Date: and From: headers cleanup adds
// for local mail, for tests about something else.
func withoutAdded(content string) string {
	var out []string
	for _, l := range strings.SplitAfter(content, "\n") {
		if strings.HasPrefix(l, "Message-Id: <20240305130709.") || l == "Date: "+testDate+"\n" || l == "From: alice@example.org\n" {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "")
}

func removeAll(path string) error { return os.RemoveAll(path) }
