package master

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrRunning is returned by LockPID when another live master holds the file.
var ErrRunning = errors.New("the mail system is already running")

// PIDFile is the master's pid file, $queue_directory/pid/master.pid as in
// Postfix. It is held with an exclusive flock for the master's lifetime, so
// a stale file left by a crash (kill -9) never blocks a restart and two
// masters never run on one queue.
type PIDFile struct {
	path string
	f    *os.File
}

// PIDPath is where the pid file of the queue at queueDir lives.
func PIDPath(queueDir string) string { return filepath.Join(queueDir, "pid", "master.pid") }

// LockPID takes the pid file and writes this process's pid into it.
func LockPID(path string) (*PIDFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("pid file %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pid file %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid, _ := ReadPID(path)
			return nil, fmt.Errorf("%w (pid %d)", ErrRunning, pid)
		}
		return nil, fmt.Errorf("pid file %s: lock: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(fmt.Sprintf("%10d\n", os.Getpid())), 0)
		if err == nil {
			err = f.Sync()
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("pid file %s: %w", path, err)
		}
	}
	return &PIDFile{path: path, f: f}, nil
}

// Release removes the pid file and drops the lock.
func (p *PIDFile) Release() error {
	os.Remove(p.path)
	return p.f.Close()
}

// ReadPID reads the pid in a pid file.
func ReadPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s: bad contents %q", path, b)
	}
	return pid, nil
}

// Running returns the pid of the live master holding the pid file, or 0.
// It asks the lock, not the pid: a pid can be reused after a crash.
func Running(path string) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err == nil {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return 0, nil // nobody holds it: stale
	}
	return ReadPID(path)
}
