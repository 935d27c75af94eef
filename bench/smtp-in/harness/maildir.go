package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// countMaildirs counts the messages in new/ and cur/ of every mailbox under
// base. Mailboxes and their subdirectories appear during the run (both
// servers create a Maildir on first delivery), so missing ones count zero.
func countMaildirs(base string) (int, error) {
	boxes, err := os.ReadDir(base)
	if err != nil {
		return 0, fmt.Errorf("count messages: %w", err)
	}
	n := 0
	for _, b := range boxes {
		if !b.IsDir() {
			continue
		}
		for _, sub := range []string{"new", "cur"} {
			names, err := readNames(filepath.Join(base, b.Name(), sub))
			if err != nil {
				return 0, fmt.Errorf("count messages: %w", err)
			}
			n += len(names)
		}
	}
	return n, nil
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// verify checks the Maildirs after a run: each mailbox holds exactly its
// share, every message carries a Message-Id seen nowhere else, and its To:
// header names the mailbox it is in. It first waits l.settle, so that a
// duplicate delivery just behind the last expected one is still seen.
func (l load) verify(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(l.settle):
	}
	want := l.expected()
	got := map[string]int{}
	seen := map[string]string{} // Message-Id -> file
	var problems []string
	boxes, err := os.ReadDir(l.mailbase)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	for _, b := range boxes {
		if !b.IsDir() {
			continue
		}
		for _, sub := range []string{"new", "cur"} {
			dir := filepath.Join(l.mailbase, b.Name(), sub)
			names, err := readNames(dir)
			if err != nil {
				return fmt.Errorf("verify: %w", err)
			}
			for _, name := range names {
				file := filepath.Join(dir, name)
				h, err := readHeader(file)
				if err != nil {
					return fmt.Errorf("verify: %w", err)
				}
				got[b.Name()]++
				id := h["message-id"]
				switch {
				case id == "":
					problems = append(problems, file+": no Message-Id")
				case seen[id] != "":
					problems = append(problems, fmt.Sprintf("%s: duplicate of %s (Message-Id %s)", file, seen[id], id))
				default:
					seen[id] = file
				}
				if to := "<" + b.Name() + "@" + l.domain + ">"; h["to"] != to {
					problems = append(problems, fmt.Sprintf("%s: To: %s, want %s", file, h["to"], to))
				}
			}
		}
	}
	for box, n := range want {
		if got[box] != n {
			problems = append(problems, fmt.Sprintf("%s holds %d messages, want %d", box, got[box], n))
		}
	}
	for box, n := range got {
		if _, ok := want[box]; !ok {
			problems = append(problems, fmt.Sprintf("unexpected mailbox %s with %d messages", box, n))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	if len(problems) > 20 {
		problems = append(problems[:20], fmt.Sprintf("... and %d more", len(problems)-20))
	}
	return fmt.Errorf("verify %s:\n  %s", l.mailbase, strings.Join(problems, "\n  "))
}

// readHeader returns the header fields of a message file, names lower-cased,
// the first occurrence of each, unfolded.
func readHeader(file string) (map[string]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := map[string]string{}
	sc := bufio.NewScanner(f)
	last := ""
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if last != "" {
				h[last] += " " + strings.TrimSpace(line)
			}
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%s: header line without a colon: %q", file, line)
		}
		name = strings.ToLower(strings.TrimSpace(name))
		last = ""
		if _, dup := h[name]; !dup {
			h[name] = strings.TrimSpace(value)
			last = name
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return h, nil
}
