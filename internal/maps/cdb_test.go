package maps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func buildCDB(t *testing.T, path string, kv map[string]string) {
	t.Helper()
	w, err := CreateCDB(path)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range kv {
		if err := w.Add(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestCDBRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.cdb")
	kv := map[string]string{}
	for i := range 5000 {
		kv[fmt.Sprintf("key%d@example.com", i)] = fmt.Sprintf("value %d", i)
	}
	kv["empty"] = ""
	buildCDB(t, path, kv)
	for _, mmap := range []bool{true, false} {
		db, err := openCDB(path)
		if err != nil {
			t.Fatal(err)
		}
		if !mmap && db.data != nil {
			munmapFile(db.data)
			db.data = nil
		}
		for k, want := range kv {
			v, ok, err := db.Get([]byte(k))
			if err != nil || !ok || string(v) != want {
				t.Fatalf("mmap=%v Get(%q) = %q %v %v, want %q", mmap, k, v, ok, err, want)
			}
		}
		if _, ok, _ := db.Get([]byte("nope")); ok {
			t.Error("found a missing key")
		}
		n := 0
		db.ForEach(func(k, v []byte) error { n++; return nil })
		if n != len(kv) {
			t.Errorf("ForEach saw %d records, want %d", n, len(kv))
		}
		db.Close()
	}
}

// TestCDBKnownBytes checks the layout against a file computed by hand from
// the format description (djb hash of "a" is 0x2b5c4, table 0xc4).
func TestCDBKnownBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.cdb")
	buildCDB(t, path, map[string]string{"a": "b"})
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if h := cdbHash([]byte("a")); h != 0x2b5c4 {
		t.Fatalf("hash(a) = %#x", h)
	}
	// header entry 0xc4: tables start after the 10-byte record.
	entry := b[0xc4*8 : 0xc4*8+8]
	if entry[0] != byte((2048+10)&0xff) || entry[1] != byte((2048+10)>>8) || entry[4] != 2 {
		t.Errorf("header entry = %v", entry)
	}
	if rec := string(b[2048:2058]); rec != "\x01\x00\x00\x00\x01\x00\x00\x00ab" {
		t.Errorf("record = %q", rec)
	}
	if len(b) != 2048+10+16 {
		t.Errorf("size %d", len(b))
	}
}

func TestCDBWriterDuplicates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.cdb")
	w, err := CreateCDB(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Add("a", "1")
	if err := w.Add("a", "2"); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("second Add: %v, want ErrDuplicate", err)
	}
	w.Add("b", "1")
	w.Replace("b", "2")
	w.Add("c", "1")
	w.Delete("c")
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	tab, err := Open("cdb:" + strings.TrimSuffix(path, ".cdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	got := map[string]string{}
	tab.(Dumper).ForEach(func(k, v string) error { got[k] = v; return nil })
	if fmt.Sprint(got) != "map[a:1 b:2]" {
		t.Errorf("dump = %v", got)
	}
}

func TestCDBCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.cdb")
	os.WriteFile(path, []byte("short"), 0o644)
	if _, err := openCDB(path); err == nil {
		t.Error("opened a file shorter than the header")
	}
	// A header pointing past the end must give an error, not a panic.
	b := make([]byte, 2048)
	for i := 0; i < 2048; i += 8 {
		b[i], b[i+1], b[i+2], b[i+3], b[i+4] = 0xff, 0xff, 0xff, 0x7f, 4
	}
	os.WriteFile(path, b, 0o644)
	db, err := openCDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, _, err := db.Get([]byte("a")); err == nil {
		t.Error("no error for a table past the end")
	}
}

func TestHashReloadAndOlderWarning(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "virtual")
	os.WriteFile(src, []byte("a 1\n"), 0o644)
	buildCDB(t, src+".cdb", map[string]string{"a": "1"})
	var warnings []string
	tab, err := OpenWith("hash:"+src, Options{Warn: func(s string) { warnings = append(warnings, s) }})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	ctx := context.Background()
	if v, ok, err := tab.Lookup(ctx, "A"); v != "1" || !ok || err != nil {
		t.Fatalf("Lookup(A) = %q %v %v", v, ok, err)
	}
	// Rebuild: the open table sees the new file without reopening.
	buildCDB(t, src+".cdb", map[string]string{"a": "2", "b": "3"})
	if v, ok, _ := tab.Lookup(ctx, "a"); v != "2" || !ok {
		t.Errorf("after rebuild Lookup(a) = %q %v", v, ok)
	}
	// A source newer than the database is reported once.
	future := time.Now().Add(time.Hour)
	os.Chtimes(src, future, future)
	buildCDB(t, src+".cdb", map[string]string{"a": "4"})
	tab.Lookup(ctx, "a")
	buildCDB(t, src+".cdb", map[string]string{"a": "5"})
	tab.Lookup(ctx, "a")
	n := 0
	for _, w := range warnings {
		if strings.Contains(w, "is older than source file") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("older-than-source warnings: %q", warnings)
	}
	// A vanished database is a lookup error, never "not found".
	os.Remove(src + ".cdb")
	if _, _, err := tab.Lookup(ctx, "a"); err == nil {
		t.Error("no error after the database was removed")
	}
}

func TestCDBTooLarge(t *testing.T) {
	b := newCDBBuilder(nil)
	b.pos = cdbMaxSize - 10
	if _, err := b.add([]byte("key"), []byte("value")); !errors.Is(err, ErrTooLarge) {
		t.Errorf("add past 4 GiB: %v, want ErrTooLarge", err)
	}
}

func BenchmarkCDBLookup(b *testing.B) {
	path := filepath.Join(b.TempDir(), "x.cdb")
	w, err := CreateCDB(path)
	if err != nil {
		b.Fatal(err)
	}
	const n = 1000000
	for i := range n {
		w.Add(fmt.Sprintf("user%d@example.com", i), fmt.Sprintf("mailbox%d@example.net", i))
	}
	if err := w.Commit(); err != nil {
		b.Fatal(err)
	}
	tab, err := Open("cdb:" + strings.TrimSuffix(path, ".cdb"))
	if err != nil {
		b.Fatal(err)
	}
	defer tab.Close()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("user%d@example.com", (i*7919)%n)
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok, err := tab.Lookup(ctx, keys[i%len(keys)]); !ok || err != nil {
			b.Fatal("miss")
		}
	}
}

// TestHashConcurrentRebuild looks up from several goroutines while the
// table is rebuilt: every answer comes from one complete version.
func TestHashConcurrentRebuild(t *testing.T) {
	src := filepath.Join(t.TempDir(), "t")
	buildCDB(t, src+".cdb", map[string]string{"k": "v0"})
	tab, err := Open("hash:" + src)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	done := make(chan struct{})
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				v, ok, err := tab.Lookup(context.Background(), "k")
				if err != nil || !ok || !strings.HasPrefix(v, "v") {
					errs <- fmt.Errorf("Lookup = %q %v %v", v, ok, err)
					return
				}
			}
		}()
	}
	for i := range 20 {
		buildCDB(t, src+".cdb", map[string]string{"k": fmt.Sprintf("v%d", i+1)})
	}
	close(done)
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
