package smtp

import (
	"bufio"
	"net"
	"time"
)

func newRW(c net.Conn) (*bufio.Reader, *bufio.Writer) {
	return bufio.NewReader(c), bufio.NewWriterSize(c, 16<<10)
}

// The connection cache keeps idle sessions per next hop for
// smtp_connection_cache_time_limit, so that a burst of mail to one
// destination reuses sessions (Postfix's scache, in process). A session
// is reset with RSET before reuse and is never shared by two deliveries
// at once.

// fromCache takes a live idle session for key, authenticated as login.
func (a *Agent) fromCache(key, login string) *session {
	if a.opts.CacheTime <= 0 {
		return nil
	}
	a.mu.Lock()
	list := a.cache[key]
	var s *session
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].login == login {
			s = list[i]
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	a.cache[key] = list
	if len(list) == 0 {
		delete(a.cache, key)
	}
	a.mu.Unlock()
	if s == nil {
		return nil
	}
	if time.Since(s.idleSince) > a.opts.CacheTime || !s.rset(&a.opts) {
		s.broken = true
		s.conn.Close()
		return nil
	}
	return s
}

// release returns a session after a delivery: to the cache when it is
// healthy and caching is on, else it is closed with QUIT.
func (a *Agent) release(key string, s *session) {
	if s.broken || a.opts.CacheTime <= 0 {
		s.quit(&a.opts)
		return
	}
	s.idleSince = time.Now()
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		s.quit(&a.opts)
		return
	}
	a.cache[key] = append(a.cache[key], s)
	a.mu.Unlock()
	time.AfterFunc(a.opts.CacheTime, func() { a.expire(key, s) })
}

// expire closes s if it is still idle in the cache.
func (a *Agent) expire(key string, s *session) {
	a.mu.Lock()
	list := a.cache[key]
	found := false
	for i, c := range list {
		if c == s {
			a.cache[key] = append(list[:i], list[i+1:]...)
			found = true
			break
		}
	}
	if len(a.cache[key]) == 0 {
		delete(a.cache, key)
	}
	a.mu.Unlock()
	if found {
		s.quit(&a.opts)
	}
}

// Close ends every cached session (QUIT), stops caching and closes
// Options.Passwords.
func (a *Agent) Close() error {
	a.mu.Lock()
	a.closed = true
	var all []*session
	for _, list := range a.cache {
		all = append(all, list...)
	}
	a.cache = map[string][]*session{}
	a.mu.Unlock()
	for _, s := range all {
		s.quit(&a.opts)
	}
	if a.opts.Passwords != nil {
		return a.opts.Passwords.Close()
	}
	return nil
}
