package durable

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestDirSyncerConcurrent(t *testing.T) {
	dir := t.TempDir()
	s := NewDirSyncer(dir)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := os.WriteFile(filepath.Join(dir, string(rune('a'+i%26))+string(rune('a'+i/26))), nil, 0o600); err != nil {
				t.Error(err)
			}
			if err := s.Sync(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

func TestDirSyncerError(t *testing.T) {
	s := NewDirSyncer(filepath.Join(t.TempDir(), "missing"))
	if err := s.Sync(); err == nil {
		t.Error("Sync of a missing directory succeeded")
	}
}
