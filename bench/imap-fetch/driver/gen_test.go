package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-message/mail"
)

// TestGenerate: the Maildir has the manifest's messages, with file names
// whose ,S= and ,W= sizes are right, flags as counted, mtimes set; every
// message parses as MIME (go-message, an independent parser), and the
// manifest's search hits and envelope digest are what the files say.
func TestGenerate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "Maildir")
	m, err := generate(dir, 300, 7)
	if err != nil {
		t.Fatal(err)
	}
	files, err := os.ReadDir(filepath.Join(dir, "cur"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != m.Messages || m.Messages != 300 {
		t.Fatalf("%d files, manifest %d, want 300", len(files), m.Messages)
	}
	var bytesW int64
	seen, answered, hits, multipart := 0, 0, 0, 0
	var keys []envelopeKey
	for _, e := range files {
		name := e.Name()
		data, err := os.ReadFile(filepath.Join(dir, "cur", name))
		if err != nil {
			t.Fatal(err)
		}
		if len(data) < 1000 || len(data) > 60*1024 {
			t.Errorf("%s: %d bytes, want 1-50 KB and a little", name, len(data))
		}
		s, w := sizeField(t, name, ",S="), sizeField(t, name, ",W=")
		if s != int64(len(data)) || w != s+int64(bytes.Count(data, []byte("\n"))) || bytes.Contains(data, []byte("\r")) {
			t.Errorf("%s: S=%d W=%d for %d bytes with LF line ends", name, s, w, len(data))
		}
		bytesW += w
		_, flags, _ := strings.Cut(name, ":2,")
		seen += strings.Count(flags, "S")
		answered += strings.Count(flags, "R")

		r, err := mail.CreateReader(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		subject, err := r.Header.Subject()
		if err != nil {
			t.Fatalf("%s: Subject: %v", name, err)
		}
		if strings.Contains(strings.ToLower(subject), searchWord) {
			hits++
		}
		id := r.Header.Get("Message-Id")
		keys = append(keys, envelopeKey{id, subject})
		to, err := r.Header.AddressList("To")
		if err != nil || len(to) == 0 {
			t.Errorf("%s: To: %v %v", name, to, err)
		}
		date, _ := r.Header.Date()
		info, _ := e.Info()
		if d := info.ModTime().Sub(date); d < 0 || d > 10e9 {
			t.Errorf("%s: mtime %v, Date %v", name, info.ModTime(), date)
		}
		parts := 0
		for {
			p, err := r.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: part %d: %v", name, parts, err)
			}
			if _, err := io.Copy(io.Discard, p.Body); err != nil {
				t.Fatalf("%s: part %d body: %v", name, parts, err)
			}
			parts++
		}
		if parts > 1 {
			multipart++
		}
	}
	if bytesW != m.Bytes || seen != m.Seen || answered != m.Answered || hits != m.SearchHits {
		t.Errorf("files: %d bytes, %d seen, %d answered, %d hits; manifest %+v", bytesW, seen, answered, hits, m)
	}
	if hits == 0 || seen == 0 || answered == 0 || multipart < 50 {
		t.Errorf("too little variety: %d hits, %d seen, %d answered, %d multipart", hits, seen, answered, multipart)
	}
	if d := envelopeDigest(keys); d != m.Envelopes {
		t.Errorf("envelope digest of the files %s, manifest %s", d, m.Envelopes)
	}

	again, err := generate(filepath.Join(t.TempDir(), "Maildir"), 300, 7)
	if err != nil {
		t.Fatal(err)
	}
	if *again != *m {
		t.Errorf("same seed, different manifests:\n%+v\n%+v", m, again)
	}
	if _, err := generate(dir, 1, 7); err == nil {
		t.Error("generate over an existing directory: no error")
	}
}

func sizeField(t *testing.T, name, key string) int64 {
	t.Helper()
	_, rest, ok := strings.Cut(name, key)
	if !ok {
		t.Fatalf("%s: no %s", name, key)
	}
	end := strings.IndexAny(rest, ",:")
	n, err := strconv.ParseInt(rest[:end], 10, 64)
	if err != nil {
		t.Fatalf("%s: %s: %v", name, key, err)
	}
	return n
}
