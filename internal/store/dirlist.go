package store

import (
	"errors"
	"fmt"
	"io/fs"
)

// dirList is a directory listing kept in one reused buffer: a folder
// lists cur/ on every rescan, and 10,000 names as 10,000 strings were
// most of a rescan's garbage. Names are valid until the next read.
type dirList struct {
	buf  []byte
	ends []int // names[i] is buf[ends[i-1]:ends[i]] (ends[-1] = 0)
}

func (d *dirList) len() int { return len(d.ends) }

func (d *dirList) name(i int) []byte {
	start := 0
	if i > 0 {
		start = d.ends[i-1]
	}
	return d.buf[start:d.ends[i]]
}

// add appends a name unless it is empty or hidden ("." files, "..").
func (d *dirList) add(name []byte) {
	if len(name) == 0 || name[0] == '.' {
		return
	}
	d.buf = append(d.buf, name...)
	d.ends = append(d.ends, len(d.buf))
}

// read lists the message files of dir (not hidden ones).
func (d *dirList) read(dir string) error {
	d.buf, d.ends = d.buf[:0], d.ends[:0]
	err := d.readDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNoMailbox
	}
	if err != nil {
		return fmt.Errorf("listing %s: %w", dir, err)
	}
	return nil
}
