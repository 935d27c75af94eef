package smtp

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	"mailhorn/internal/deliver"
	"mailhorn/internal/smtpd"
)

// TestLMTP delivers to our smtpd in LMTP mode, whose submitter answers
// per recipient, over TCP and over a UNIX-domain socket.
func TestLMTP(t *testing.T) {
	tcp := listenAt(t, "127.0.0.1", "0")
	tcp2 := listenAt(t, "127.0.0.1", "0")
	sock := filepath.Join(t.TempDir(), "lmtp.sock")
	unix, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close() })
	lmtpMode := func(o *smtpd.Options) { o.LMTP = true }
	for _, tc := range []struct {
		name, nexthop, relay string
		ln                   net.Listener
	}{
		{"tcp", "inet:127.0.0.1:" + portOf(tcp), "127.0.0.1[127.0.0.1]:" + portOf(tcp), tcp},
		{"tcp bracketed", "[127.0.0.1]:" + portOf(tcp2), "127.0.0.1[127.0.0.1]:" + portOf(tcp2), tcp2},
		{"unix", "unix:" + sock, "localhost[" + sock + "]", unix},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sk := peer(t, tc.ln, lmtpMode)
			o := testOptions("24")
			o.LMTP = true
			a := New(o, nil, nil)
			defer a.Close()
			res := a.Deliver(context.Background(), request(t, tc.nexthop, "s@sender.test", message, "ok@d.test", "full@d.test", "unknown@d.test", "two@d.test"))
			check(t, res,
				want{deliver.Sent, "2.0.0", "250 2.0.0", "smtp; 250"},
				want{deliver.Bounced, "5.2.2", "said: 552 5.2.2 <full@d.test>: Mailbox full (in reply to end of DATA command)", "smtp; 552 5.2.2"},
				want{deliver.Bounced, "5.1.1", "(in reply to RCPT TO command)", "smtp; 550 5.1.1"},
				want{deliver.Sent, "2.0.0", "250 2.0.0", ""},
			)
			for _, r := range res {
				if r.Relay != tc.relay {
					t.Errorf("relay %q, want %q", r.Relay, tc.relay)
				}
			}
			if got := sk.all(); len(got) != 1 || len(got[0].msg.Recipients) != 3 {
				t.Errorf("peer got %+v", got)
			}
		})
	}
}

func TestLMTPBadNexthop(t *testing.T) {
	o := testOptions("24")
	o.LMTP = true
	res := New(o, nil, nil).Deliver(context.Background(), request(t, "unix:", "", message, "a@d.test"))
	check(t, res, want{deliver.Deferred, "4.3.5", "mail system configuration error: bad next hop", ""})
}
