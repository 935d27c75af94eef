// Package anvil counts client events per time unit, as Postfix's anvil(8)
// server does for smtpd: connections, messages, recipients and AUTH
// commands per client address, and (mailhorn's own) authentication
// failures shared by smtpd, imapd and pop3d.
//
// One Anvil outlives configuration reloads, so a reload does not reset a
// client's counts. Counting is in fixed windows like Postfix's: a window
// opens at a client's first event and its count starts again once the
// window (anvil_rate_time_unit) has passed.
package anvil

import (
	"net/netip"
	"sync"
	"time"
)

// Event kinds used across mailhorn.
const (
	Connect     = "connect"      // smtpd_client_connection_rate_limit
	Message     = "message"      // smtpd_client_message_rate_limit
	Recipient   = "recipient"    // smtpd_client_recipient_rate_limit
	AuthCommand = "auth"         // smtpd_client_auth_rate_limit
	AuthFailure = "auth-failure" // auth_failure_limit (all access services)
)

type key struct {
	kind string
	addr netip.Addr
}

type window struct {
	start time.Time
	count int
}

// Anvil holds the counters. The zero value is not usable; call New.
type Anvil struct {
	now func() time.Time

	mu    sync.Mutex
	m     map[key]*window
	adds  int
	limit time.Duration // the longest window asked for: entries older are swept
}

// New returns an empty Anvil; now is its clock (nil: time.Now).
func New(now func() time.Time) *Anvil {
	if now == nil {
		now = time.Now
	}
	return &Anvil{now: now, m: map[key]*window{}}
}

// Add counts n events of kind for addr in windows of length unit and
// returns the count in the current window, these included.
func (a *Anvil) Add(kind string, addr netip.Addr, n int, unit time.Duration) int {
	t := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if unit > a.limit {
		a.limit = unit
	}
	k := key{kind, addr.Unmap()}
	w := a.m[k]
	if w == nil || t.Sub(w.start) >= unit {
		w = &window{start: t}
		a.m[k] = w
	}
	w.count += n
	if a.adds++; a.adds >= 1024 {
		a.sweep(t)
	}
	return w.count
}

// Count returns the count of kind for addr in its current window of
// length unit, without adding to it.
func (a *Anvil) Count(kind string, addr netip.Addr, unit time.Duration) int {
	t := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	w := a.m[key{kind, addr.Unmap()}]
	if w == nil || t.Sub(w.start) >= unit {
		return 0
	}
	return w.count
}

// Reset forgets the count of kind for addr.
func (a *Anvil) Reset(kind string, addr netip.Addr) {
	a.mu.Lock()
	delete(a.m, key{kind, addr.Unmap()})
	a.mu.Unlock()
}

// sweep drops windows older than the longest unit in use, so that memory
// stays bounded by the clients seen in the last window.
func (a *Anvil) sweep(t time.Time) {
	a.adds = 0
	for k, w := range a.m {
		if t.Sub(w.start) >= a.limit {
			delete(a.m, k)
		}
	}
}
