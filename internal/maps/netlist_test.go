package maps

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func TestNetList(t *testing.T) {
	file := filepath.Join(t.TempDir(), "nets")
	os.WriteFile(file, []byte("# trusted\n198.51.100.0/24, 203.0.113.7\n"), 0o644)
	l, err := ParseNetList([]string{"127.0.0.0/8", "[::1]/128", "!192.0.2.9", "192.0.2.0/24", "2001:db8::/32", file, "inline:{10.1.1.1=ok}"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1", true}, {"::1", true}, {"::ffff:127.0.0.5", true},
		{"192.0.2.1", true}, {"192.0.2.9", false}, {"2001:db8::5", true},
		{"198.51.100.200", true}, {"203.0.113.7", true}, {"203.0.113.8", false},
		{"10.1.1.1", true}, {"10.1.1.2", false}, {"8.8.8.8", false},
	} {
		got, err := l.Match(context.Background(), netip.MustParseAddr(tc.addr))
		if err != nil || got != tc.want {
			t.Errorf("Match(%s) = %v, %v; want %v", tc.addr, got, err, tc.want)
		}
	}
}

func TestNetListErrors(t *testing.T) {
	for _, bad := range [][]string{{"192.0.2.1/24"}, {"300.1.1.1"}, {"nosuch:table"}, {"/no/such/file"}, {"!/etc/passwd"}} {
		if _, err := ParseNetList(bad, nil); err == nil {
			t.Errorf("ParseNetList(%q) succeeded", bad)
		}
	}
	l, _ := ParseNetList([]string{"fail:x"}, nil)
	if _, err := l.Match(context.Background(), netip.MustParseAddr("192.0.2.1")); err == nil {
		t.Error("a failing table matched or missed instead of failing")
	}
}
