package privsep

import (
	"context"
	"io"
	"os"
	"time"

	"mailhorn/internal/deliver"
	"mailhorn/internal/store"
)

// InProcess runs deliveries in this process, with its own rights: what a
// mail system that was not started as root does. A delivery for another
// uid (or gid) is deferred, since only root could make it.
type InProcess struct {
	// Maildirs writes Maildir files (shared, so that directory syncs are
	// grouped); nil: a writer per delivery.
	Maildirs *store.Writer
	// Now is the clock of stale dotlock checks; nil: time.Now.
	Now func() time.Time

	wrap func(io.Writer) io.Writer // tests: wraps mbox writers
}

// Run implements Runner.
func (p *InProcess) Run(ctx context.Context, req *Request) (Result, error) {
	if req.Op == OpShadow {
		return shadowResult(req, DefaultShadowFiles()), nil // works when running as root
	}
	if err := req.Check(); err != nil {
		return Resultf(deliver.Deferred, "4.3.5", "mail system configuration error: %v", err), nil
	}
	if uid := os.Geteuid(); req.As.UID != uid {
		return Resultf(deliver.Deferred, "4.3.0", "mail system not running as root: cannot deliver as uid %d", req.As.UID), nil
	}
	x := executor{wrap: p.wrap, now: p.Now, maildirs: p.Maildirs}
	return x.execute(ctx, req), nil
}
