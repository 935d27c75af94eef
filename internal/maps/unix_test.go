package maps

import (
	"context"
	"strings"
	"testing"
)

func TestUnixPasswd(t *testing.T) {
	tab, err := Open("proxy:unix:passwd.byname")
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	ctx := context.Background()
	v, ok, err := tab.Lookup(ctx, "root")
	if err != nil || !ok || !strings.HasPrefix(v, "root:x:0:0:") {
		t.Errorf("root = %q, %v, %v", v, ok, err)
	}
	for _, k := range []string{"no-such-user-mailhorn", "ROOT", "", "root:x"} {
		if v, ok, err := tab.Lookup(ctx, k); ok || err != nil {
			t.Errorf("%q = %q, %v, %v; want not found", k, v, ok, err)
		}
	}
	g, _ := Open("unix:group.byname")
	if v, ok, err := g.Lookup(ctx, "root"); err != nil || !ok || !strings.HasPrefix(v, "root:x:0:") {
		t.Errorf("group root = %q, %v, %v", v, ok, err)
	}
	if _, err := Open("unix:shadow.byname"); err == nil {
		t.Error("unix:shadow.byname opened")
	}
}
