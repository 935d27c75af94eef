package maps

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func FuzzRegexpTable(f *testing.F) {
	f.Add("/^(.*)@example\\.com$/i\t$1\nif !/x/\n/a/!/b/ ${1}\nendif\n", "joe@example.com")
	f.Add("|a|m $$\n/(/ x\n/a/q y\n!!/a/ b\nendif\n", "a")
	f.Add("/^(a)(b)?$/ $2$1$(1)\n/x", "a")
	f.Fuzz(func(t *testing.T, src, key string) {
		for _, d := range []reDialect{regexpDialect, pcreDialect} {
			tab, err := parseRESource(strings.NewReader(src), "fuzz", d, func(string) {})
			if err != nil {
				continue
			}
			tab.match(key)
		}
	})
}

func FuzzCIDRTable(f *testing.F) {
	f.Add("192.168.0.0/16 a\n!10.0.0.0/8 b\nif [2001:db8::]/32\n2001:db8::1 c\nendif\n", "10.1.2.3")
	f.Add("[1.2.3.4]/ x\n::/0 y\n1.2.3.4/99999999999999999999 z\n", "::ffff:1.2.3.4")
	f.Fuzz(func(t *testing.T, src, key string) {
		tab, err := parseCIDRSource(strings.NewReader(src), "fuzz", func(string) {})
		if err != nil {
			return
		}
		tab.match(key)
	})
}

func FuzzSource(f *testing.F) {
	f.Add("a b\n  c\n# d\n e\nf\n g h\n")
	f.Add(" x\n\r\n\t#\nk: v\n")
	f.Fuzz(func(t *testing.T, src string) {
		ReadSource(strings.NewReader(src), "fuzz", func(string) {}, func(e SourceEntry) error {
			if e.Key == "" || e.Value == "" || strings.ContainsAny(e.Key, spaceChars) {
				t.Fatalf("bad entry %+v", e)
			}
			return nil
		})
	})
}

func FuzzInlineSpec(f *testing.F) {
	f.Add("inline:{a=b, { c = d }}")
	f.Add("unionmap:{inline:{a=b}, static:{x y}}")
	f.Add("pipemap:{static:a, inline:{{a=}}}")
	f.Fuzz(func(t *testing.T, spec string) {
		// Only in-memory types: no files, no databases.
		typ, _, err := SplitSpec(spec)
		if err != nil {
			return
		}
		if typ != "inline" && typ != "static" && typ != "unionmap" && typ != "pipemap" {
			return
		}
		if strings.Contains(spec, "/") || strings.Count(spec, ":") > 8 {
			return
		}
		tab, err := Open(spec)
		if err == nil {
			tab.Close()
		}
	})
}

func FuzzCDBReader(f *testing.F) {
	dir := f.TempDir()
	good := filepath.Join(dir, "seed.cdb")
	w, _ := CreateCDB(good)
	w.Add("a", "b")
	w.Add("key", "value")
	w.Commit()
	seed, _ := os.ReadFile(good)
	f.Add(seed, "a")
	f.Add(make([]byte, 2048), "x")
	f.Fuzz(func(t *testing.T, data []byte, key string) {
		if len(data) < cdbHeaderSize {
			return
		}
		db := &cdbFile{name: "fuzz", r: bytes.NewReader(data), size: int64(len(data))}
		db.Get([]byte(key))
		n := 0
		db.ForEach(func(k, v []byte) error {
			if n++; n > 1000 {
				return os.ErrClosed
			}
			return nil
		})
	})
}
