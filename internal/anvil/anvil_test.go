package anvil

import (
	"net/netip"
	"testing"
	"time"
)

func TestWindows(t *testing.T) {
	now := time.Unix(1000, 0)
	a := New(func() time.Time { return now })
	c1, c2 := netip.MustParseAddr("127.0.0.9"), netip.MustParseAddr("::ffff:127.0.0.10")
	steps := []struct {
		advance time.Duration
		addr    netip.Addr
		kind    string
		want    int
	}{
		{0, c1, Connect, 1},
		{10 * time.Second, c1, Connect, 2},
		{0, c1, Message, 1},                                // kinds are separate
		{0, c2, Connect, 1},                                // clients are separate; mapped IPv4 unmapped
		{49 * time.Second, c1, Connect, 3},                 // 59 s after the first: same window
		{time.Second, c1, Connect, 1},                      // 60 s: a new window
		{0, netip.MustParseAddr("127.0.0.10"), Connect, 2}, // c2 is the same client, its window opened at 10 s
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		if got := a.Add(s.kind, s.addr, 1, time.Minute); got != s.want {
			t.Errorf("step %d: Add(%s, %s) = %d, want %d", i, s.kind, s.addr, got, s.want)
		}
	}
	if got := a.Count(Connect, c1, time.Minute); got != 1 {
		t.Errorf("Count = %d, want 1", got)
	}
	a.Reset(Connect, c1)
	if got := a.Count(Connect, c1, time.Minute); got != 0 {
		t.Errorf("Count after Reset = %d, want 0", got)
	}
}

func TestSweepBoundsMemory(t *testing.T) {
	now := time.Unix(1000, 0)
	a := New(func() time.Time { return now })
	for i := 0; i < 5000; i++ {
		now = now.Add(time.Second)
		a.Add(Connect, netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 1, time.Minute)
	}
	if n := len(a.m); n > 1024+60 {
		t.Errorf("%d windows kept, want at most those of the last minute plus one sweep interval", n)
	}
}
