package master

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestPIDFile(t *testing.T) {
	path := PIDPath(t.TempDir())
	if pid, err := Running(path); pid != 0 || err != nil {
		t.Fatalf("Running before start = %d, %v", pid, err)
	}
	p, err := LockPID(path)
	if err != nil {
		t.Fatal(err)
	}
	if pid, err := Running(path); pid != os.Getpid() || err != nil {
		t.Errorf("Running = %d, %v; want %d", pid, err, os.Getpid())
	}
	if _, err := LockPID(path); !errors.Is(err, ErrRunning) {
		t.Errorf("second LockPID: %v, want ErrRunning", err)
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	if pid, _ := Running(path); pid != 0 {
		t.Errorf("Running after release = %d", pid)
	}
}

// A pid file left behind by a killed master (no lock held) does not block.
func TestStalePIDFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pid", "master.pid")
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, []byte("         1\n"), 0o644)
	if pid, err := Running(path); pid != 0 || err != nil {
		t.Errorf("Running on stale file = %d, %v", pid, err)
	}
	p, err := LockPID(path)
	if err != nil {
		t.Fatal(err)
	}
	p.Release()
}
