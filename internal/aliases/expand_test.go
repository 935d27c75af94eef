package aliases

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailhorn/internal/config"
	"mailhorn/internal/maps"
)

// memTable is an in-memory alias table holding values as postalias stores
// them (names folded, values externalized), built from aliases(5) text.
type memTable map[string]string

func (m memTable) Lookup(_ context.Context, key string) (string, bool, error) {
	v, ok := m[maps.FoldKey(key)]
	return v, ok, nil
}

func tableFrom(t *testing.T, text string) memTable {
	t.Helper()
	entries, problems, err := Parse(strings.NewReader(text), "aliases", ParseOptions{})
	if err != nil || len(problems) > 0 {
		t.Fatalf("bad test table: %v %v", err, problems)
	}
	m := memTable{}
	for _, e := range entries {
		if _, dup := m[e.Name]; !dup {
			m[e.Name] = e.Value
		}
	}
	return m
}

type failTable struct{}

func (failTable) Lookup(context.Context, string) (string, bool, error) {
	return "", false, errors.New("database down")
}

func newTestExpander(t *testing.T, text string) *Expander {
	return &Expander{
		Tables:              []Table{{Name: "hash:/etc/aliases", Table: tableFrom(t, text), UID: 0, GID: 0}},
		OwnerRequestSpecial: true,
		IsLocal:             func(d string) bool { return strings.EqualFold(d, "example.com") },
	}
}

// showTargets shows targets compactly: kind value [ext] <chain> from [owner].
func showTargets(ts []Target) string {
	var out []string
	for _, t := range ts {
		s := t.Kind.String() + ":" + t.Value
		if t.Extension != "" {
			s += "+" + t.Extension
		}
		s += " <" + strings.Join(t.Alias, ">") + "> " + t.Origin.Kind.String()
		if t.Owner != "" {
			s += " owner=" + t.Owner
		}
		out = append(out, s)
	}
	return strings.Join(out, "; ")
}

func TestExpand(t *testing.T) {
	aliases := `
root: \root, admin@Remote.ORG
postmaster: root
admin: alice, bob@example.com
team: alice, bob, alice, carol@remote.org, Carol@Remote.org
loop1: loop2
loop2: loop1, x@remote.org
prog: "|/usr/bin/handler --flag value", |"/usr/bin/x y", /var/spool/archive, /var/box/
list: alice, bob
owner-list: listadmin
sub: list, dave
owner-sub: subadmin
self: self, y@remote.org
ext+special: special-target
bare+: z
`
	tests := []struct {
		name, in, want string
		setup          func(x *Expander)
	}{
		{name: "not an alias", in: "alice", want: "mailbox:alice <> recipient"},
		{name: "case folded", in: "ALICE", want: "mailbox:alice <> recipient"},
		{name: "chain and remote", in: "postmaster",
			// \root is stored as "root" by postalias: root lists itself,
			// which means its mailbox.
			want: "mailbox:root <postmaster>root> alias; address:admin@Remote.ORG <postmaster>root> alias"},
		{name: "local domain recursion", in: "admin",
			want: "mailbox:alice <admin> alias; mailbox:bob <admin> alias"},
		{name: "duplicates dropped", in: "team",
			want: "mailbox:alice <team> alias; mailbox:bob <team> alias; address:carol@remote.org <team> alias"},
		{name: "mutual loop ends in the mailbox", in: "loop1",
			want: "mailbox:loop1 <loop1>loop2> alias; address:x@remote.org <loop1>loop2> alias"},
		{name: "self", in: "self", want: "mailbox:self <self> alias; address:y@remote.org <self> alias"},
		{name: "files and commands", in: "prog",
			want: "command:/usr/bin/handler --flag value <prog> alias; command:/usr/bin/x y <prog> alias; file:/var/spool/archive <prog> alias; file:/var/box/ <prog> alias"},
		{name: "owner", in: "list",
			want: "mailbox:alice <list> alias owner=owner-list; mailbox:bob <list> alias owner=owner-list"},
		{name: "expand_owner_alias", in: "list", setup: func(x *Expander) { x.ExpandOwnerAlias = true },
			want: "mailbox:alice <list> alias owner=listadmin; mailbox:bob <list> alias owner=listadmin"},
		{name: "child owner wins", in: "sub",
			want: "mailbox:alice <sub>list> alias owner=owner-list; mailbox:bob <sub>list> alias owner=owner-list; mailbox:dave <sub> alias owner=owner-sub"},
		{name: "owner_request_special off", in: "list", setup: func(x *Expander) { x.OwnerRequestSpecial = false },
			want: "mailbox:alice <list> alias; mailbox:bob <list> alias"},
		{name: "no delimiter, no split", in: "alice+x", want: "mailbox:alice+x <> recipient"},
		{name: "extension falls back to user", in: "admin+foo", setup: func(x *Expander) { x.Delimiters = "+" },
			want: "mailbox:alice <admin> alias; mailbox:bob <admin> alias"},
		{name: "extension propagated", in: "admin+foo", setup: func(x *Expander) { x.Delimiters = "+"; x.PropagateAlias = true },
			want: "mailbox:alice+foo <admin> alias; mailbox:bob+foo <admin> alias"},
		{name: "extension propagated to remote", in: "root+foo", setup: func(x *Expander) { x.Delimiters = "+"; x.PropagateAlias = true },
			want: "mailbox:root+foo <root> alias; address:admin+foo@Remote.ORG <root> alias"},
		{name: "full name first", in: "ext+special", setup: func(x *Expander) { x.Delimiters = "+" },
			want: "mailbox:special-target <ext+special> alias"},
		{name: "mailbox keeps extension", in: "alice+foo", setup: func(x *Expander) { x.Delimiters = "+-" },
			want: "mailbox:alice+foo <> recipient"},
		{name: "owner- never split at -", in: "owner-list", setup: func(x *Expander) { x.Delimiters = "-" },
			want: "mailbox:listadmin <owner-list> alias"},
		{name: "trailing delimiter", in: "bare+", setup: func(x *Expander) { x.Delimiters = "+" },
			want: "mailbox:z <bare+> alias"},
		{name: "empty extension falls back", in: "alice+", setup: func(x *Expander) { x.Delimiters = "+" },
			want: "mailbox:alice <> recipient"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := newTestExpander(t, aliases)
			if tc.setup != nil {
				tc.setup(x)
			}
			got, err := x.Expand(context.Background(), tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if s := showTargets(got); s != tc.want {
				t.Errorf("Expand(%q)\n got: %s\nwant: %s", tc.in, s, tc.want)
			}
		})
	}
}

func TestExpandErrors(t *testing.T) {
	var chain strings.Builder
	for i := 0; i < 150; i++ {
		fmt.Fprintf(&chain, "a%d: a%d\n", i, i+1)
	}
	tests := []struct {
		name, table, in, status string
		temporary               bool
	}{
		{name: "depth limit", table: chain.String(), in: "a0", status: "5.4.6"},
		{name: "relative include", table: "x: :include:lists/x\n", in: "x", status: "5.3.5"},
		{name: "missing include", table: "x: :include:/nonexistent/mailhorn/list\n", in: "x", status: "5.3.5"},
		{name: "home file outside .forward", table: "x: ~/mbox\n", in: "x", status: "5.1.1"},
		{name: "empty value", table: "x: \"\"\n", in: "x", status: "4.3.0", temporary: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := newTestExpander(t, tc.table)
			_, err := x.Expand(context.Background(), tc.in)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v, want *Error", err)
			}
			if e.Status != tc.status || e.Temporary() != tc.temporary {
				t.Errorf("error %q status %s temporary %v, want %s %v", e, e.Status, e.Temporary(), tc.status, tc.temporary)
			}
		})
	}
	x := &Expander{Tables: []Table{{Name: "hash:/x", Table: failTable{}}}}
	_, err := x.Expand(context.Background(), "anyone")
	var e *Error
	if !errors.As(err, &e) || !e.Temporary() || !strings.Contains(err.Error(), "database down") {
		t.Errorf("failing table: %v", err)
	}
}

func writeInclude(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExpandInclude(t *testing.T) {
	dir := t.TempDir()
	inner := writeInclude(t, dir, "inner", "dave\n", 0o644)
	list := writeInclude(t, dir, "list", "# members\nalice, bob@remote.org (Bob)\n  carol \"|/bin/cmd arg\" /tmp/f\n\\root\n:include:"+inner+"\nroot\n", 0o644)
	ww := writeInclude(t, dir, "ww", "alice\n", 0o666)
	x := newTestExpander(t, "list: :include:"+list+"\nroot: admin@remote.org\nww: :INCLUDE:"+ww+"\n")
	got, err := x.Expand(context.Background(), "list")
	if err != nil {
		t.Fatal(err)
	}
	want := "mailbox:alice <list> include; address:bob@remote.org <list> include; mailbox:carol <list> include; " +
		"command:/bin/cmd arg <list> include; file:/tmp/f <list> include; mailbox:root <list> include; " +
		"mailbox:dave <list> include; address:admin@remote.org <list>root> alias"
	if s := showTargets(got); s != want {
		t.Errorf("got:  %s\nwant: %s", s, want)
	}
	if got[0].Origin.Name != list || got[0].Origin.UID != os.Getuid() {
		t.Errorf("origin %+v", got[0].Origin)
	}
	if got[6].Origin.Name != inner {
		t.Errorf("nested origin %+v", got[6].Origin)
	}

	if _, err := x.Expand(context.Background(), "ww"); err == nil || !strings.Contains(err.Error(), "world writable") {
		t.Errorf("world-writable include: %v", err)
	}
	x.MaxIncludeSize = 10
	if _, err := x.Expand(context.Background(), "list"); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("size limit: %v", err)
	}

	// An include file that includes itself is read once.
	selfInc := filepath.Join(dir, "self")
	writeInclude(t, dir, "self", "eve, :include:"+selfInc+"\n", 0o644)
	x = newTestExpander(t, "s: :include:"+selfInc+"\n")
	got, err = x.Expand(context.Background(), "s")
	if err != nil || showTargets(got) != "mailbox:eve <s> include" {
		t.Errorf("self include: %s %v", showTargets(got), err)
	}
}

func TestExpandForward(t *testing.T) {
	x := newTestExpander(t, "team: alice, bob\n")
	content := []byte("# forward\nfred, \\fred, team\n\"|/usr/bin/vacation fred\"\n~/Mail/saved\nfriend@remote.org\n")
	got, err := x.ExpandForward(context.Background(), "Fred", "/home/fred", content, "/home/fred/.forward", 1000, 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := "mailbox:fred <fred> forward; mailbox:alice <fred>team> alias; mailbox:bob <fred>team> alias; " +
		"command:/usr/bin/vacation fred <fred> forward; file:/home/fred/Mail/saved <fred> forward; address:friend@remote.org <fred> forward"
	if s := showTargets(got); s != want {
		t.Errorf("got:  %s\nwant: %s", s, want)
	}
	if got[3].Origin.UID != 1000 || got[3].Origin.Name != "/home/fred/.forward" {
		t.Errorf("origin %+v", got[3].Origin)
	}
}

func TestAllowed(t *testing.T) {
	cfg, err := config.FromMap(nil)
	if err != nil {
		t.Fatal(err)
	}
	incl, err := config.FromMap(map[string]string{"allow_mail_to_commands": "alias, forward, include", "allow_mail_to_files": "alias"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		kind   Kind
		origin OriginKind
		cfg    *config.Config
		want   bool
	}{
		{Command, FromAlias, cfg, true},
		{Command, FromForward, cfg, true},
		{Command, FromInclude, cfg, false},
		{File, FromInclude, cfg, false},
		{File, FromAlias, cfg, true},
		{Command, FromInclude, incl, true},
		{File, FromForward, incl, false},
		{Command, FromRecipient, incl, false},
		{Address, FromInclude, cfg, true},
		{Mailbox, FromInclude, cfg, true},
	}
	for _, tc := range tests {
		tg := Target{Kind: tc.kind, Origin: Origin{Kind: tc.origin}}
		if got := tg.Allowed(tc.cfg); got != tc.want {
			t.Errorf("%v from %v: Allowed = %v, want %v", tc.kind, tc.origin, got, tc.want)
		}
	}
}

func TestNew(t *testing.T) {
	cfg, err := config.FromMap(map[string]string{
		"recipient_delimiter":            "+",
		"propagate_unmatched_extensions": "canonical, virtual, alias",
		"expand_owner_alias":             "yes",
	})
	if err != nil {
		t.Fatal(err)
	}
	x := New(cfg, nil)
	if x.Delimiters != "+" || !x.PropagateAlias || x.PropagateInclude || !x.ExpandOwnerAlias || !x.OwnerRequestSpecial {
		t.Errorf("New: %+v", x)
	}
}

func TestOpenTables(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "aliases")
	if err := os.WriteFile(filepath.Join(dir, "more"), []byte("x y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ts, err := OpenTables([]string{"texthash:" + filepath.Join(dir, "more")})
	if err != nil {
		t.Fatal(err)
	}
	defer CloseTables(ts)
	if ts[0].UID != os.Getuid() {
		t.Errorf("owner %d, want %d", ts[0].UID, os.Getuid())
	}
	v, ok, err := ts[0].Table.Lookup(context.Background(), "X")
	if err != nil || !ok || v != "y" {
		t.Errorf("lookup: %q %v %v", v, ok, err)
	}
	if _, err := OpenTables([]string{"hash:" + src}); err == nil {
		t.Error("missing table opened")
	}
}
