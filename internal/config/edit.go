package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Edit is a change to main.cf, as postconf -e, -X and -# make them.
type Edit struct {
	Set     [][2]string // name, value: replace in place or append (postconf -e)
	Remove  []string    // delete the entries (postconf -X)
	Comment []string    // comment the entries out (postconf -#)
}

// editMain applies an Edit to main.cf content and returns the new content.
// An edited entry's first line is replaced and its continuation lines are
// dropped; comment and blank lines, even inside the entry, stay, as with
// postconf. New settings are appended in the order given.
func editMain(path, data string, e Edit) (string, []string, error) {
	entries, err := parseMain(path, data, nil)
	if err != nil {
		return "", nil, err
	}
	set := map[string]string{}
	for _, nv := range e.Set {
		set[nv[0]] = nv[1]
	}
	remove := map[string]bool{}
	for _, n := range e.Remove {
		remove[n] = true
	}
	comment := map[string]bool{}
	for _, n := range e.Comment {
		comment[n] = true
	}
	lines := physicalLines(data)
	replace := map[int]*string{} // 0-based line -> new text (nil: delete)
	count := map[string]int{}
	for _, en := range entries {
		count[en.name]++
		for i, n := range en.lines {
			var t *string
			switch {
			case comment[en.name]:
				s := "#" + lines[n-1]
				t = &s
			case remove[en.name]:
			case i == 0:
				if v, ok := set[en.name]; ok {
					s := en.name + " = " + v
					t = &s
				} else {
					continue
				}
			default:
				if _, ok := set[en.name]; !ok {
					continue
				}
			}
			replace[n-1] = t
		}
	}
	var warnings []string
	for _, nv := range e.Set {
		if count[nv[0]] > 1 {
			warnings = append(warnings, fmt.Sprintf("%s: multiple entries for %q", path, nv[0]))
		}
	}
	var b strings.Builder
	for i, l := range lines {
		if t, ok := replace[i]; ok {
			if t != nil {
				b.WriteString(*t + "\n")
			}
			continue
		}
		b.WriteString(l + "\n")
	}
	done := map[string]bool{}
	for _, nv := range e.Set {
		if count[nv[0]] == 0 && !done[nv[0]] {
			done[nv[0]] = true
			b.WriteString(nv[0] + " = " + set[nv[0]] + "\n")
		}
	}
	return b.String(), warnings, nil
}

// EditMain changes DIR/main.cf in place, keeping comments and order. Before
// writing, the result is loaded and validated like Load does, so a bad value
// (message_size_limit = ten) is refused. The file is replaced atomically:
// written to a temporary file in the same directory, synced, renamed.
// Warnings (duplicate entries) are returned.
func EditMain(dir string, e Edit) ([]string, error) {
	path := strings.TrimSuffix(dir, "/") + "/main.cf"
	mode := fs.FileMode(0o644)
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read main.cf: %w", err)
	default:
		if fi, err := os.Stat(path); err == nil {
			mode = fi.Mode().Perm()
		}
	}
	for _, nv := range e.Set {
		if nv[0] == "" || strings.ContainsAny(nv[0], " \t\r\n=#") {
			return nil, fmt.Errorf("bad parameter name %q", nv[0])
		}
		if strings.ContainsAny(nv[1], "\r\n") {
			return nil, fmt.Errorf("%s: value must be one line", nv[0])
		}
	}
	out, warnings, err := editMain(path, string(data), e)
	if err != nil {
		return nil, err
	}
	if err := validateMain(dir, path, out); err != nil {
		return warnings, err
	}
	return warnings, writeAtomic(path, []byte(out), mode)
}

// validateMain checks new main.cf content as Load would.
func validateMain(dir, path, data string) error {
	entries, err := parseMain(path, data, nil)
	if err != nil {
		return err
	}
	set := map[string]setting{}
	for _, e := range entries {
		set[e.name] = setting{value: e.value, file: path, line: e.line}
	}
	services, _ := LoadMaster(dir)
	_, err = build(dir, osHost(), set, serviceNames(services), nil, nil)
	return err
}

func writeAtomic(path string, data []byte, mode fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".main.cf.*")
	if err != nil {
		return fmt.Errorf("write main.cf: %w", err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write main.cf: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Chmod(mode); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write main.cf: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write main.cf: %w", err)
	}
	return nil
}
