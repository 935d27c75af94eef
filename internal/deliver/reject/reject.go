// Package reject is the error(8) delivery agent (the "error" transport):
// it delivers nothing and bounces every recipient with the next hop as the
// reason, e.g. transport_maps "old.example error:5.1.1 mailbox moved" or the
// resolver's answer for an address it cannot route. A next hop that starts
// with a 4.X.Y status defers instead, as Postfix's error agent does; the
// "retry" transport defers with the next hop as the reason.
package reject

import (
	"context"
	"strings"

	"mailhorn/internal/deliver"
)

// Agent is the error agent; Retry makes it the retry(8) agent.
type Agent struct {
	Retry bool
}

// Deliver implements deliver.Agent.
func (a Agent) Deliver(_ context.Context, req *deliver.Request) []deliver.Result {
	dsn, text := split(req.Nexthop)
	st := deliver.Bounced
	if a.Retry || dsn[0] == '4' {
		st = deliver.Deferred
		if dsn[0] != '4' {
			dsn = "4" + dsn[1:]
		}
	}
	return deliver.All(req, st, dsn, text, "none")
}

// split takes an optional leading X.Y.Z status off the reason.
func split(nexthop string) (dsn, text string) {
	nexthop = strings.TrimSpace(nexthop)
	first, rest, _ := strings.Cut(nexthop, " ")
	if isStatus(first) {
		dsn, text = first, strings.TrimSpace(rest)
	} else {
		dsn, text = "5.0.0", nexthop
	}
	if text == "" {
		text = "delivery failed"
	}
	return dsn, text
}

func isStatus(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || (parts[0] != "4" && parts[0] != "5") {
		return false
	}
	for _, p := range parts[1:] {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}
