package queue

import (
	"os"
	"syscall"
)

// datasync is fdatasync(2): the status bytes and appended records need their
// data on disk, not the file's times.
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
