package aliases

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/corpus/*.aliases")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("a: \"b\n c\" (x\n"))
	f.Add([]byte("\\"))
	f.Add([]byte("x: <a, b; c:>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, problems, err := Parse(bytes.NewReader(data), "f", ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		last := 0
		for _, e := range entries {
			if e.Line < last || e.Line < 1 || e.Line > lines {
				t.Fatalf("entry %+v: line out of order or range (%d lines)", e, lines)
			}
			last = e.Line
			if strings.ContainsAny(e.Value, "\n") || strings.ContainsAny(e.Name, "\n") {
				t.Fatalf("newline in entry %+v", e)
			}
		}
		for _, p := range problems {
			if p.Line < 1 || p.Line > lines {
				t.Fatalf("problem %v: line out of range", p)
			}
		}
	})
}

// FuzzExpand expands an alias whose value, and an :include: file it may
// name, come from the fuzzer: whatever they hold, expansion ends, within
// the limits, without panicking.
func FuzzExpand(f *testing.F) {
	f.Add("a, b, \"|cmd x\", /file, :include:INC, \\c, d@example.com", "e, f (g)\n:include:INC\n")
	f.Add("x, x, x, y", "#\n")
	f.Add("<a@b>, \"Joe\" <j@x>, group: a, b;", "~/x")
	f.Add("a+b, owner-x", "a")
	f.Fuzz(func(t *testing.T, value, include string) {
		const inc = "/fuzz/include"
		value = strings.ReplaceAll(value, "INC", inc)
		include = strings.ReplaceAll(include, "INC", inc)
		x := &Expander{
			Tables: []Table{{Name: "mem", Table: memTable{
				"x": value, "a": "x, a", "owner-x": "x",
			}}},
			Delimiters:          "+-",
			OwnerRequestSpecial: true,
			PropagateAlias:      true,
			MaxTargets:          500,
			IsLocal:             func(d string) bool { return d == "example.com" },
			ReadFile: func(_ context.Context, path string) ([]byte, int, int, error) {
				if path != inc {
					return nil, -1, -1, os.ErrNotExist
				}
				return []byte(include), 1, 1, nil
			},
		}
		ts, err := x.Expand(context.Background(), "x")
		if err != nil {
			return
		}
		if len(ts) > 500 {
			t.Fatalf("%d targets over the limit", len(ts))
		}
		x.ExpandForward(context.Background(), "u", "/home/u", []byte(value), "/home/u/.forward", 1, 1)
	})
}
