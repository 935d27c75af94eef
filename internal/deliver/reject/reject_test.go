package reject

import (
	"context"
	"testing"

	"mailhorn/internal/deliver"
)

func TestAgent(t *testing.T) {
	for _, tc := range []struct {
		retry             bool
		nexthop, dsn, txt string
		st                deliver.Status
	}{
		{false, "5.1.1 mailbox moved", "5.1.1", "mailbox moved", deliver.Bounced},
		{false, "mailbox moved", "5.0.0", "mailbox moved", deliver.Bounced},
		{false, "4.3.2 try later", "4.3.2", "try later", deliver.Deferred},
		{false, "", "5.0.0", "delivery failed", deliver.Bounced},
		{true, "5.3.0 maintenance", "4.3.0", "maintenance", deliver.Deferred},
		{false, "5.x.1 odd", "5.0.0", "5.x.1 odd", deliver.Bounced},
	} {
		req := &deliver.Request{Nexthop: tc.nexthop, Recipients: []deliver.Recipient{{Index: 3, Address: "a@b"}}}
		res := Agent{Retry: tc.retry}.Deliver(context.Background(), req)
		if len(res) != 1 || res[0].Index != 3 || res[0].Status != tc.st || res[0].DSN != tc.dsn || res[0].Text != tc.txt {
			t.Errorf("%q retry=%v: %+v", tc.nexthop, tc.retry, res)
		}
	}
}
