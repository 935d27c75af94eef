package queue

import (
	"io"
	"os"
	"sort"
	"sync"
	"testing"
	"time"
)

func writeMessage(t *testing.T, q *Queue, env *Envelope, content string) string {
	t.Helper()
	w, err := q.Create(env)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w.Content(), content)
	w.EndContent()
	for _, r := range env.Recipients {
		w.AddRecipient(r)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return w.ID
}

func readFile(t *testing.T, path string) *File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	qf, err := Decode(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return qf
}

func TestCommitAndAbort(t *testing.T) {
	q, err := Open(t.TempDir(), NewIDSource(1, nil))
	if err != nil {
		t.Fatal(err)
	}
	id := writeMessage(t, q, sampleEnvelope(), "Subject: x\n\nhello\n")
	if !ValidID(id) {
		t.Fatalf("invalid ID %q", id)
	}
	if f := readFile(t, q.Path(Incoming, id)); len(f.Recipients) != 2 || f.ContentSize != 18 {
		t.Errorf("read back %+v", f)
	}

	w, err := q.Create(sampleEnvelope())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w.Content(), "partial")
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(q.Path(Incoming, w.ID)); !os.IsNotExist(err) {
		t.Errorf("aborted file still there: %v", err)
	}
}

func TestConcurrentCommits(t *testing.T) {
	q, err := Open(t.TempDir(), NewIDSource(2, nil))
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i] = writeMessage(t, q, sampleEnvelope(), "x\n")
		}()
	}
	wg.Wait()
	sort.Strings(ids)
	for i := 1; i < n; i++ {
		if ids[i] == ids[i-1] {
			t.Fatalf("duplicate ID %s", ids[i])
		}
	}
	for _, id := range ids {
		readFile(t, q.Path(Incoming, id))
	}
}

func TestIDsSortByArrival(t *testing.T) {
	clock := time.Unix(1764340000, 0)
	s := NewIDSource(0xabc, func() time.Time { return clock })
	a := s.Next()
	b := s.Next() // same tick: still increasing
	clock = clock.Add(time.Second)
	c := s.Next()
	if !(a < b && b < c) {
		t.Errorf("IDs not increasing: %s %s %s", a, b, c)
	}
	if got := IDTime(c); !got.Equal(clock) {
		t.Errorf("IDTime(%s) = %v, want %v", c, got, clock)
	}
	for _, bad := range []string{"", "../../etc/passw", "0123456789abcdef", "0123456789ABCDEFG"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}
