package local

import (
	"context"
	"strings"

	"mailhorn/internal/deliver"
)

// plan is what delivery to one recipient will do, decided before anything
// is written: outcomes known in advance (a restricted command, an unknown
// user), the mailboxes to write, and the addresses to forward to, grouped
// by envelope sender (one new message per sender, as local(8) does).
type plan struct {
	results    []deliver.Result
	mailboxes  []User
	externals  []external
	forwards   []forwardGroup
	warnedRoot bool
}

type forwardGroup struct {
	sender string
	rcpts  []string
}

func (p *plan) add(r deliver.Result) { p.results = append(p.results, r) }

// mailbox adds a user's mailbox, once.
func (p *plan) mailbox(u User) {
	for _, m := range p.mailboxes {
		if m.Name == u.Name {
			return
		}
	}
	p.mailboxes = append(p.mailboxes, u)
}

// forward adds an address to forward to, once per sender.
func (p *plan) forward(addr, sender string) {
	for i := range p.forwards {
		g := &p.forwards[i]
		if g.sender != sender {
			continue
		}
		for _, r := range g.rcpts {
			if strings.EqualFold(r, addr) {
				return
			}
		}
		g.rcpts = append(g.rcpts, addr)
		return
	}
	p.forwards = append(p.forwards, forwardGroup{sender: sender, rcpts: []string{addr}})
}

// firstFailure returns the first planned outcome with status st.
func (p *plan) firstFailure(st deliver.Status) *deliver.Result {
	for i := range p.results {
		if p.results[i].Status == st {
			return &p.results[i]
		}
	}
	return nil
}

// execute carries the plan out and sums the outcomes up in one result:
// deferred if anything must be tried again, else bounced if a target
// failed for good, else sent.
func (a *Agent) execute(ctx context.Context, rc *rcpt, p *plan) deliver.Result {
	out := append([]deliver.Result(nil), p.results...)
	for _, u := range p.mailboxes {
		out = append(out, a.deliverMailbox(ctx, rc, u))
	}
	for _, x := range p.externals {
		out = append(out, a.run(ctx, rc, x.req))
	}
	for _, g := range p.forwards {
		out = append(out, a.submitForward(ctx, rc, g))
	}
	return combine(out)
}

func combine(out []deliver.Result) deliver.Result {
	if len(out) == 0 {
		return deliver.Resultf(deliver.Deferred, "4.3.0", "alias expansion produced no delivery target")
	}
	for _, st := range []deliver.Status{deliver.Deferred, deliver.Bounced} {
		for _, r := range out {
			if r.Status == st {
				return r
			}
		}
	}
	var texts []string
	for _, r := range out {
		dup := false
		for _, t := range texts {
			dup = dup || t == r.Text
		}
		if !dup {
			texts = append(texts, r.Text)
		}
	}
	return deliver.Result{Status: deliver.Sent, DSN: "2.0.0", Text: strings.Join(texts, ", ")}
}
