package master

import (
	"context"
	"errors"
	"io"
	"sync/atomic"

	"mailhorn/internal/cleanup"
	"mailhorn/internal/deliver"
	"mailhorn/internal/qmgr"
	"mailhorn/internal/rewrite"
)

// cleanupRewriter adapts the rewrite package to what cleanup needs.
type cleanupRewriter struct{ rw *rewrite.Rewriter }

func (a cleanupRewriter) Canonical(ctx context.Context, addr string, class cleanup.Class, local bool) (string, error) {
	c := rewrite.Remote
	if local {
		c = rewrite.Local
	}
	// cleanup.Class and rewrite.AddrClass list the same classes in the
	// same order (a test checks it).
	ac := rewrite.AddrClass(class)
	addr = a.rw.Canonicalize(c, addr)
	addr, err := a.rw.MapCanonical(ctx, ac, addr)
	if err != nil {
		return "", err
	}
	return a.rw.Masquerade(ac, addr), nil
}

func (a cleanupRewriter) ExpandVirtual(ctx context.Context, addr string) ([]string, error) {
	out, err := a.rw.ExpandVirtual(ctx, addr)
	if errors.Is(err, rewrite.ErrLimit) {
		return nil, &cleanup.Error{Code: 451, DSN: "4.6.0", Text: "Alias expansion error", Err: err}
	}
	return out, err
}

// current holds the generation in service; the queue manager, built once,
// reaches the newest rewriter and agents through it.
type current struct{ p atomic.Pointer[generation] }

func (c *current) get() *generation { return c.p.Load() }

// Resolve implements qmgr.Resolver with the current generation's rewriter.
func (c *current) Resolve(ctx context.Context, sender, addr string) (qmgr.Resolution, error) {
	res, err := c.get().rw.Resolve(ctx, sender, addr)
	if err != nil {
		return qmgr.Resolution{}, err
	}
	return qmgr.Resolution{Transport: res.Transport, Nexthop: res.Nexthop, Recipient: res.Recipient}, nil
}

// Submit implements qmgr.Submitter (bounces) through the current cleanup.
func (c *current) Submit(ctx context.Context, m *cleanup.Message, content io.Reader) (string, error) {
	return c.get().cleanup.Submit(ctx, m, content)
}

// agent delivers through the current generation's agent of one service.
type agent struct {
	cur  *current
	name string
}

func (a agent) Deliver(ctx context.Context, req *deliver.Request) []deliver.Result {
	ag, ok := a.cur.get().agents[a.name]
	if !ok {
		return deliver.All(req, deliver.Deferred, "4.3.0", "mail transport unavailable", "none")
	}
	return ag.Deliver(ctx, req)
}
