package e2e

import (
	"strings"
	"testing"
)

// sendmail(1) writes into maildrop/ even while the mail system is down;
// pickup delivers it at the next start. Then mutt-style and -t invocations
// while it runs.
func TestSendmail(t *testing.T) {
	s := newSystem(t, options{})
	s.writeMasterCF()
	// A first start lays out the queue (maildrop/ included), as an install
	// does.
	s.start()
	s.stop()

	sendmail := func(stdin string, args ...string) {
		t.Helper()
		cmd := s.command(append([]string{"sendmail", "-c", s.etc}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sendmail %q: %v: %s", args, err, out)
		}
	}
	// Down: the message waits in maildrop/.
	sendmail("Subject: while down\nMessage-ID: <down@e2e.test>\n\nwritten while stopped\n.\nnot the end with -i\n",
		"-i", "-f", "carol@example.net", "alice@"+domain)
	if q := s.queued(); len(q) != 1 || !strings.HasPrefix(q[0], "maildrop/") {
		t.Fatalf("queue after sendmail while down: %q, want one maildrop file", q)
	}
	s.start()
	defer s.stop()
	// mutt calls sendmail -oem -oi -- rcpt; scripts use -t with the
	// recipients in the headers (Bcc removed).
	sendmail("To: bob@"+domain+"\nSubject: mutt\nMessage-ID: <mutt@e2e.test>\n\nfrom mutt\n", "-oem", "-oi", "-f", "carol@example.net", "--", "bob@"+domain)
	sendmail("From: Carol <carol@example.net>\nTo: alice@"+domain+"\nBcc: bob@"+domain+"\nSubject: -t\nMessage-ID: <t@e2e.test>\n\nto both\n", "-t", "-oi")

	msgs := s.waitDelivered(4)
	got := map[string]int{}
	for _, m := range msgs {
		got[m.user+" "+m.msgID]++
		if m.msgID == "<down@e2e.test>" && !strings.Contains(m.raw, "not the end with -i") {
			t.Errorf("-i: the lone dot ended the message early:\n%s", m.raw)
		}
		if m.msgID == "<t@e2e.test>" && strings.Contains(strings.ToLower(m.raw), "\nbcc:") {
			t.Errorf("-t: Bcc: header delivered:\n%s", m.raw)
		}
	}
	for _, want := range []string{"alice <down@e2e.test>", "bob <mutt@e2e.test>", "alice <t@e2e.test>", "bob <t@e2e.test>"} {
		if got[want] != 1 {
			t.Errorf("%s delivered %d times; deliveries: %v", want, got[want], got)
		}
	}
	// pickup names the submitting uid, as Postfix's does.
	s.waitLog("mailhorn/pickup", "uid=", "from=<carol@example.net>")
}
