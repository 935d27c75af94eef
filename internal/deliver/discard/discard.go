// Package discard is the discard(8) delivery agent: it accepts every
// recipient and throws the message away, logging status=sent with the next
// hop as the reason, as Postfix does for transport_maps entries such as
// "example.com discard:silently dropped".
package discard

import (
	"context"

	"mailhorn/internal/deliver"
)

// Agent is the discard agent.
type Agent struct{}

// Deliver implements deliver.Agent.
func (Agent) Deliver(_ context.Context, req *deliver.Request) []deliver.Result {
	text := req.Nexthop
	if text == "" {
		text = "discarded"
	}
	return deliver.All(req, deliver.Sent, "2.0.0", text, "none")
}
