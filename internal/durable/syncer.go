package durable

import (
	"os"
	"sync"
)

// DirSyncer makes directory entries durable with as few fsyncs as possible:
// callers that ask while a sync is running share the next one (group commit).
// A caller returns only after a sync that started after its request ended.
type DirSyncer struct {
	path string

	mu      sync.Mutex
	running bool
	gen     uint64 // syncs started
	done    uint64 // syncs finished (the highest generation)
	err     error  // result of the last finished sync
	cond    *sync.Cond
}

// NewDirSyncer returns a DirSyncer for the directory at path.
func NewDirSyncer(path string) *DirSyncer {
	s := &DirSyncer{path: path}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// Sync waits until a directory fsync that began after the call has finished.
func (s *DirSyncer) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	need := s.gen + 1 // the first sync to start from now on
	for s.done < need {
		if !s.running {
			s.running = true
			s.gen++
			g := s.gen
			s.mu.Unlock()
			err := SyncDir(s.path)
			s.mu.Lock()
			s.running = false
			s.done, s.err = g, err
			s.cond.Broadcast()
			if g >= need {
				return err
			}
			continue
		}
		s.cond.Wait()
	}
	return s.err
}

// SyncDir fsyncs a directory, making the entries created in it durable.
func SyncDir(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
