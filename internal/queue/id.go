package queue

import (
	"fmt"
	"sync"
	"time"
)

// IDs are 16 upper-case hex digits: 13 for the arrival time in microseconds,
// so that IDs sort by arrival, and 3 telling apart the writers (processes)
// that may share a clock tick. They match the [0-9A-F]+ that log readers such
// as pflogsumm expect of Postfix queue IDs.
const idLen = 16

// IDSource hands out unique, increasing queue IDs within one process.
type IDSource struct {
	mu     sync.Mutex
	last   int64
	suffix int
	now    func() time.Time
}

// NewIDSource returns an ID source; suffix (0-4095) distinguishes processes.
func NewIDSource(suffix int, now func() time.Time) *IDSource {
	if now == nil {
		now = time.Now
	}
	return &IDSource{suffix: suffix & 0xfff, now: now}
}

// Next returns a new ID, never equal to or lower than the previous one.
func (s *IDSource) Next() string {
	s.mu.Lock()
	us := s.now().UnixMicro()
	if us <= s.last {
		us = s.last + 1
	}
	s.last = us
	s.mu.Unlock()
	return fmt.Sprintf("%013X%03X", us, s.suffix)
}

// ValidID tells whether s has the form of a queue ID, so that a name taken
// from a directory listing or a command line is never used as a path
// component otherwise.
func ValidID(s string) bool {
	if len(s) != idLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// IDTime is the arrival time encoded in a valid ID.
func IDTime(id string) time.Time {
	var us int64
	fmt.Sscanf(id[:13], "%X", &us)
	return time.UnixMicro(us)
}

// HashDir is the subdirectory an ID lives in: the time digit that changes
// every 4096 µs. Over time arrivals spread evenly over 16 directories, while
// messages arriving together share one, so that their directory fsyncs
// coalesce (group commit).
func HashDir(id string) string { return id[10:11] }
