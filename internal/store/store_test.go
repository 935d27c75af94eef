package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

var bg = context.Background()

// testUser opens a fresh tree in a temp dir.
func testUser(t testing.TB, q Quota) (*Store, *User, string) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "Maildir")
	st := New(Options{})
	u, err := st.OpenUser(bg, root, q)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, u, root
}

func mustAppend(t testing.TB, u *User, box, content string, flags ...string) uint32 {
	t.Helper()
	_, uid, err := u.Append(bg, box, strings.NewReader(content), flags, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return uid
}

func mustOpen(t testing.TB, u *User, box string) *Mailbox {
	t.Helper()
	m, err := u.Open(bg, box)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func mustSync(t testing.TB, m *Mailbox) Changes {
	t.Helper()
	ch, err := m.Sync(bg)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// dropFile writes a message into new/ as another delivery program would.
func dropFile(t testing.TB, dir, name, content string) {
	t.Helper()
	tmp := filepath.Join(dir, "tmp", name)
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "new", name)); err != nil {
		t.Fatal(err)
	}
}

func uidsOf(m *Mailbox) []uint32 {
	var out []uint32
	for _, x := range m.Messages() {
		out = append(out, x.UID)
	}
	return out
}

func TestCheckName(t *testing.T) {
	long := strings.Repeat("x", 255)
	for _, tc := range []struct {
		in, want string // want "" = refused
	}{
		{"INBOX", "INBOX"},
		{"inbox", "INBOX"},
		{"InBoX/Sub", "INBOX/Sub"},
		{"Sent", "Sent"},
		{"A/B/C", "A/B/C"},
		{"Ünïcødé box", "Ünïcødé box"},
		{"", ""},
		{"../x", ""},
		{"a/../../b", ""},
		{".x", ""},
		{"x.", ""},
		{"a.b", ""},
		{"INBOX/../..", ""},
		{"..", ""},
		{"/abs", ""},
		{"trail/", ""},
		{"a//b", ""},
		{"nul\x00byte", ""},
		{"tab\there", ""},
		{"del\x7f", ""},
		{"wild*", ""},
		{"wild%", ""},
		{"bad\xffutf8", ""},
		{long, ""},
		{strings.Repeat("x", maxNameLen), strings.Repeat("x", maxNameLen)},
	} {
		got, err := CheckName(tc.in)
		if tc.want == "" {
			if err == nil || !errors.Is(err, ErrBadName) {
				t.Errorf("CheckName(%q) = %q, %v; want ErrBadName", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("CheckName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestFolders(t *testing.T) {
	_, u, root := testUser(t, Quota{})
	// Special-use folders exist after the first open, remembered.
	list, err := u.List(bg)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]MailboxInfo{}
	for _, m := range list {
		got[m.Name] = m
	}
	if list[0].Name != "INBOX" {
		t.Errorf("first is %q, want INBOX", list[0].Name)
	}
	for name, use := range map[string]string{"Sent": UseSent, "Drafts": UseDrafts, "Trash": UseTrash, "Junk": UseJunk, "Archive": UseArchive} {
		if got[name].SpecialUse != use {
			t.Errorf("%s: special use %q, want %q", name, got[name].SpecialUse, use)
		}
		if _, err := os.Stat(filepath.Join(root, "."+name, "maildirfolder")); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	// Traversal and bad names are refused by every operation.
	for _, bad := range []string{"../x", "a/../../b", ".x", "x.", "INBOX/../..", "nul\x00", strings.Repeat("n", 300), "/", "a/"} {
		if err := u.Create(bg, bad, ""); !errors.Is(err, ErrBadName) {
			t.Errorf("Create(%q): %v", bad, err)
		}
		if err := u.Rename(bg, "Sent", bad); !errors.Is(err, ErrBadName) {
			t.Errorf("Rename(Sent, %q): %v", bad, err)
		}
		if err := u.Delete(bg, bad); !errors.Is(err, ErrBadName) {
			t.Errorf("Delete(%q): %v", bad, err)
		}
		if err := u.Subscribe(bg, bad, true); !errors.Is(err, ErrBadName) {
			t.Errorf("Subscribe(%q): %v", bad, err)
		}
		if _, err := u.Open(bg, bad); !errors.Is(err, ErrBadName) {
			t.Errorf("Open(%q): %v", bad, err)
		}
		if _, _, err := u.Append(bg, bad, strings.NewReader("x\n"), nil, time.Time{}); !errors.Is(err, ErrBadName) {
			t.Errorf("Append(%q): %v", bad, err)
		}
	}
	if ents, _ := os.ReadDir(filepath.Dir(root)); len(ents) != 1 {
		t.Errorf("something was created beside the root: %v", ents)
	}

	// Create, nested levels, duplicates.
	if err := u.Create(bg, "Work/2024/Q1", ""); err != nil {
		t.Fatal(err)
	}
	if err := u.Create(bg, "Work/2024/Q1", ""); !errors.Is(err, ErrExists) {
		t.Errorf("second create: %v", err)
	}
	if err := u.Create(bg, "inbox", ""); !errors.Is(err, ErrExists) {
		t.Errorf("create INBOX: %v", err)
	}
	if err := u.Create(bg, "Flagged", `\Flagged`); err != nil {
		t.Fatal(err)
	}
	if err := u.Create(bg, "Odd", `\Bogus`); !errors.Is(err, ErrBadUse) {
		t.Errorf("bad special use: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, ".Work.2024.Q1", "cur")); err != nil {
		t.Fatal(err)
	}
	info := func(name string) MailboxInfo {
		t.Helper()
		l, err := u.List(bg)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range l {
			if m.Name == name {
				return m
			}
		}
		return MailboxInfo{Name: "(missing)"}
	}
	if w := info("Work"); !w.NoSelect || !w.HasChildren {
		t.Errorf("Work = %+v, want NoSelect HasChildren", w)
	}
	if q := info("Work/2024/Q1"); q.NoSelect || q.HasChildren {
		t.Errorf("Q1 = %+v", q)
	}
	if f := info("Flagged"); f.SpecialUse != `\Flagged` {
		t.Errorf("Flagged = %+v", f)
	}

	// Subscriptions, in Dovecot's file format.
	if err := u.Subscribe(bg, "Work/2024/Q1", true); err != nil {
		t.Fatal(err)
	}
	if err := u.Subscribe(bg, "inbox", true); err != nil {
		t.Fatal(err)
	}
	if err := u.Subscribe(bg, "Gone/Never", true); err != nil {
		t.Fatal(err)
	}
	if err := u.Subscribe(bg, "Gone/Never", false); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(root, "subscriptions"))
	if want := "V\t2\n\nINBOX\nWork\t2024\tQ1\n"; string(b) != want {
		t.Errorf("subscriptions file %q, want %q", b, want)
	}
	if !info("Work/2024/Q1").Subscribed || !info("INBOX").Subscribed {
		t.Error("subscriptions not listed")
	}
	if w := info("Work"); !w.NonExistent || w.Subscribed {
		t.Errorf("Work = %+v, want NonExistent (an intermediate level)", w)
	}
	// A subscription without a folder is listed as NonExistent (RFC 5258
	// §3: LIST (SUBSCRIBED) shows it), and gives its parents no children.
	if err := u.Subscribe(bg, "Old/Project", true); err != nil {
		t.Fatal(err)
	}
	if o := info("Old/Project"); o != (MailboxInfo{Name: "Old/Project", Subscribed: true, NoSelect: true, NonExistent: true}) {
		t.Errorf("Old/Project = %+v", o)
	}
	if o := info("Old"); o.Name != "(missing)" {
		t.Errorf("Old = %+v, want no entry", o)
	}
	if err := u.Subscribe(bg, "Old/Project", false); err != nil {
		t.Fatal(err)
	}
	if q := info("Work/2024/Q1"); q.NonExistent || q.NoSelect {
		t.Errorf("Q1 = %+v", q)
	}

	// Rename moves children; deleting a NoSelect level with children fails.
	if err := u.Rename(bg, "Work", "Job"); err != nil {
		t.Fatal(err)
	}
	if info("Job/2024/Q1").Name == "(missing)" || info("Work").Name != "(missing)" {
		t.Errorf("after rename: %+v", must(u.List(bg)))
	}
	if err := u.Rename(bg, "Nope", "Other"); !errors.Is(err, ErrNoMailbox) {
		t.Errorf("rename missing: %v", err)
	}
	if err := u.Rename(bg, "Job", "Sent"); !errors.Is(err, ErrExists) {
		t.Errorf("rename onto existing: %v", err)
	}
	if err := u.Rename(bg, "Flagged", "Starred"); err != nil {
		t.Fatal(err)
	}
	if info("Starred").SpecialUse != `\Flagged` {
		t.Error("special use not carried by rename")
	}
	if err := u.Delete(bg, "Job"); !errors.Is(err, ErrHasChildren) {
		t.Errorf("delete NoSelect parent: %v", err)
	}
	if err := u.Delete(bg, "Job/2024/Q1"); err != nil {
		t.Fatal(err)
	}
	if err := u.Delete(bg, "Job/2024/Q1"); !errors.Is(err, ErrNoMailbox) {
		t.Errorf("second delete: %v", err)
	}
	if err := u.Delete(bg, "INBOX"); !errors.Is(err, ErrInboxOnly) {
		t.Errorf("delete INBOX: %v", err)
	}

	// Renaming INBOX moves its messages and leaves it empty.
	mustAppend(t, u, "INBOX", "Subject: a\n\nA\n")
	mustAppend(t, u, "INBOX", "Subject: b\n\nB\n")
	if err := u.Rename(bg, "INBOX", "Old"); err != nil {
		t.Fatal(err)
	}
	if s, _ := u.Status(bg, "INBOX"); s.Messages != 0 {
		t.Errorf("INBOX has %d messages after rename", s.Messages)
	}
	if s, _ := u.Status(bg, "Old"); s.Messages != 2 {
		t.Errorf("Old has %d messages", s.Messages)
	}

	// A second OpenUser does not recreate a deleted special-use folder.
	if err := u.Delete(bg, "Junk"); err != nil {
		t.Fatal(err)
	}
	st2 := New(Options{})
	defer st2.Close()
	u2, err := st2.OpenUser(bg, root, Quota{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u2.Status(bg, "Junk"); !errors.Is(err, ErrNoMailbox) {
		t.Errorf("Junk came back: %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestUIDsStable(t *testing.T) {
	st, u, root := testUser(t, Quota{})
	for i := range 3 {
		mustAppend(t, u, "INBOX", fmt.Sprintf("Subject: %d\n\nbody\n", i))
	}
	s1, _ := u.Status(bg, "INBOX")
	st.Close()

	st2 := New(Options{})
	defer st2.Close()
	u2, _ := st2.OpenUser(bg, root, Quota{})
	m := mustOpen(t, u2, "INBOX")
	if s := m.Status(); s.UIDValidity != s1.UIDValidity || s.UIDNext != 4 || !slices.Equal(uidsOf(m), []uint32{1, 2, 3}) {
		t.Errorf("after reopen: %+v %v; before %+v", s, uidsOf(m), s1)
	}
}

func TestExternalChanges(t *testing.T) {
	_, u, root := testUser(t, Quota{})
	mustAppend(t, u, "INBOX", "Subject: one\n\n1\n")
	m := mustOpen(t, u, "INBOX")
	other := mustOpen(t, u, "INBOX")

	// Another program delivers into new/.
	dropFile(t, root, "1700000000.M1P1.other", "Subject: two\n\n2\n")
	ch := mustSync(t, m)
	if ch.New != 1 || !slices.Equal(uidsOf(m), []uint32{1, 2}) {
		t.Fatalf("after delivery: %+v %v", ch, uidsOf(m))
	}
	if n, _ := os.ReadDir(filepath.Join(root, "new")); len(n) != 0 {
		t.Errorf("new/ not moved to cur/: %v", n)
	}
	ms1 := m.Messages()[1].ModSeq

	// mutt marks it seen and flagged by renaming the file.
	cur, _ := os.ReadDir(filepath.Join(root, "cur"))
	var two string
	for _, e := range cur {
		if strings.HasPrefix(e.Name(), "1700000000.M1P1.other") {
			two = e.Name()
		}
	}
	if err := os.Rename(filepath.Join(root, "cur", two), filepath.Join(root, "cur", "1700000000.M1P1.other:2,FS")); err != nil {
		t.Fatal(err)
	}
	ch = mustSync(t, m)
	msg := m.Messages()[1]
	if !slices.Equal(ch.FlagsChanged, []uint32{2}) || !slices.Equal(msg.Flags, []string{FlagFlagged, FlagSeen}) || msg.ModSeq <= ms1 {
		t.Errorf("after rename: %+v, message %+v (modseq before %d)", ch, msg, ms1)
	}
	if s := m.Status(); s.HighestModSeq != msg.ModSeq || s.Unseen != 1 || s.FirstUnseen != 1 {
		t.Errorf("status %+v", s)
	}

	// A file deleted is an expunge.
	os.Remove(filepath.Join(root, "cur", "1700000000.M1P1.other:2,FS"))
	ch = mustSync(t, m)
	if !slices.Equal(ch.Expunged, []uint32{2}) || !slices.Equal(ch.ExpungedUIDs, []uint32{2}) || !slices.Equal(uidsOf(m), []uint32{1}) {
		t.Errorf("after delete: %+v %v", ch, uidsOf(m))
	}

	// The other view had not synced: it sees the whole story at once.
	if got := uidsOf(other); !slices.Equal(got, []uint32{1}) {
		t.Errorf("unsynced view changed: %v", got)
	}
	ch = mustSync(t, other)
	if ch.New != 0 || len(ch.Expunged) != 0 {
		t.Errorf("other view: %+v", ch)
	}
}

func TestKeywordsOnDisk(t *testing.T) {
	_, u, root := testUser(t, Quota{})
	mustAppend(t, u, "INBOX", "x\n", `\Seen`, "$Forwarded", "Work")
	m := mustOpen(t, u, "INBOX")
	if got := m.Messages()[0].Flags; !slices.Equal(got, []string{"$Forwarded", "Work", FlagSeen}) {
		t.Errorf("flags %v", got)
	}
	kw, _ := os.ReadFile(filepath.Join(root, "dovecot-keywords"))
	if string(kw) != "0 $Forwarded\n1 Work\n" {
		t.Errorf("dovecot-keywords %q", kw)
	}
	cur, _ := os.ReadDir(filepath.Join(root, "cur"))
	if len(cur) != 1 || !strings.HasSuffix(cur[0].Name(), ":2,Sab") {
		t.Errorf("file %v", cur)
	}
	if _, err := m.Store(bg, []uint32{1}, FlagsRemove, []string{"$forwarded", `\seen`}, 0); err != nil {
		t.Fatal(err)
	}
	cur, _ = os.ReadDir(filepath.Join(root, "cur"))
	if !strings.HasSuffix(cur[0].Name(), ":2,b") || !slices.Equal(m.Messages()[0].Flags, []string{"Work"}) {
		t.Errorf("after remove: %v %v", cur[0].Name(), m.Messages()[0].Flags)
	}
}

func TestIndexRecovery(t *testing.T) {
	setup := func(t *testing.T) (string, uint32) {
		st, u, root := testUser(t, Quota{})
		for i := range 5 {
			mustAppend(t, u, "INBOX", fmt.Sprintf("Subject: %d\n\nbody %d\n", i, i), `\Seen`)
		}
		// Expunge 1 so that UIDs and file order are not trivially equal.
		m := mustOpen(t, u, "INBOX")
		m.Store(bg, []uint32{1}, FlagsAdd, []string{FlagDeleted}, 0)
		m.Expunge(bg, nil)
		s := m.Status()
		m.Close()
		st.Close()
		return root, s.UIDValidity
	}
	ixPath := func(root string) string { return filepath.Join(root, indexFile) }
	for _, tc := range []struct {
		name     string
		damage   func(t *testing.T, path string)
		sameUIDV bool
		wantUIDs []uint32
	}{
		{"intact", func(*testing.T, string) {}, true, []uint32{2, 3, 4, 5}},
		// The last synced copy (a hard link, see writeIndexSync) keeps the
		// UIDs when the index file is gone, as Dovecot's dovecot-uidlist
		// does when dovecot.index is deleted.
		{"deleted", func(t *testing.T, p string) { os.Remove(p) }, true, []uint32{2, 3, 4, 5}},
		{"deleted with its synced copy", func(t *testing.T, p string) {
			os.Remove(p)
			os.Remove(filepath.Join(filepath.Dir(p), syncedFile))
		}, false, []uint32{1, 2, 3, 4}},
		// Damage in place reaches the synced copy too (the same inode).
		{"empty", func(t *testing.T, p string) { os.WriteFile(p, nil, 0o600) }, false, []uint32{1, 2, 3, 4}},
		{"header byte flipped", func(t *testing.T, p string) { flip(t, p, 10) }, false, []uint32{1, 2, 3, 4}},
		{"garbage", func(t *testing.T, p string) { os.WriteFile(p, []byte("not an index at all, no"), 0o600) }, false, []uint32{1, 2, 3, 4}},
		// Truncated after two entries: those keep their UIDs, the others
		// get new ones above UIDNEXT under the same UIDVALIDITY.
		{"truncated", func(t *testing.T, p string) {
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:entryEnd(t, b, 2)+3], 0o600)
		}, true, []uint32{2, 3, 6, 7}},
		// A flipped byte in the third entry: the same.
		{"entry byte flipped", func(t *testing.T, p string) {
			b, _ := os.ReadFile(p)
			flip(t, p, entryEnd(t, b, 2)+6)
		}, true, []uint32{2, 3, 6, 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, uidv := setup(t)
			tc.damage(t, ixPath(root))
			st := New(Options{})
			defer st.Close()
			u, _ := st.OpenUser(bg, root, Quota{})
			m := mustOpen(t, u, "INBOX")
			s := m.Status()
			if (s.UIDValidity == uidv) != tc.sameUIDV || !slices.Equal(uidsOf(m), tc.wantUIDs) {
				t.Errorf("UIDVALIDITY %d (was %d), UIDs %v; want same=%v %v", s.UIDValidity, uidv, uidsOf(m), tc.sameUIDV, tc.wantUIDs)
			}
			// Nothing lost: every message is there, flags from the names.
			for i, msg := range m.Messages() {
				if !slices.Contains(msg.Flags, FlagSeen) {
					t.Errorf("message %d lost its flags: %v", i, msg.Flags)
				}
				r, err := m.Open(msg.UID)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(r)
				r.Close()
				if int64(len(b)) != msg.Size || !strings.Contains(string(b), "body") {
					t.Errorf("message %d: %q size %d", i, b, msg.Size)
				}
			}
			// And the index is whole again.
			b, _ := os.ReadFile(ixPath(root))
			if _, err := decodeIndex(b); err != nil {
				t.Errorf("index after rebuild: %v", err)
			}
		})
	}
}

// TestStoreUnsyncedIndex: STORE writes the index without fsync (a new
// file, so the synced copy keeps the last synced one); a crash that loses
// that write leaves the UIDs of the synced copy and the flags of the file
// names. Changes of UIDs are synced.
func TestStoreUnsyncedIndex(t *testing.T) {
	st, u, root := testUser(t, Quota{})
	for i := range 4 {
		mustAppend(t, u, "INBOX", fmt.Sprintf("Subject: %d\n\nbody %d\n", i, i))
	}
	m := mustOpen(t, u, "INBOX")
	m.Store(bg, []uint32{1}, FlagsAdd, []string{FlagDeleted}, 0)
	m.Expunge(bg, nil) // UIDs 2 3 4 left
	inode := func(name string) uint64 {
		t.Helper()
		fi, err := os.Stat(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	if inode(indexFile) != inode(syncedFile) {
		t.Fatal("after EXPUNGE: the synced copy is not the index")
	}
	synced := inode(syncedFile)
	if _, err := m.Store(bg, []uint32{2, 4}, FlagsAdd, []string{FlagFlagged, "Work"}, 0); err != nil {
		t.Fatal(err)
	}
	// A new keyword changes the keyword table: synced.
	if inode(indexFile) != inode(syncedFile) || inode(syncedFile) == synced {
		t.Fatal("after STORE of a new keyword: not synced")
	}
	synced = inode(syncedFile)
	if _, err := m.Store(bg, []uint32{3}, FlagsAdd, []string{FlagSeen, "Work"}, 0); err != nil {
		t.Fatal(err)
	}
	if inode(indexFile) == inode(syncedFile) || inode(syncedFile) != synced {
		t.Fatal("after STORE of flags only: the synced copy changed")
	}
	uidv := m.Status().UIDValidity
	m.Close()
	st.Close()
	// The crash: the unsynced index's data never reached the disk.
	os.Remove(filepath.Join(root, indexFile))
	os.WriteFile(filepath.Join(root, indexFile), nil, 0o600)
	st2 := New(Options{})
	defer st2.Close()
	u2, _ := st2.OpenUser(bg, root, Quota{})
	m2 := mustOpen(t, u2, "INBOX")
	if got := m2.Status().UIDValidity; got != uidv || !slices.Equal(uidsOf(m2), []uint32{2, 3, 4}) {
		t.Fatalf("UIDVALIDITY %d (was %d), UIDs %v", got, uidv, uidsOf(m2))
	}
	want := [][]string{{"Work", FlagFlagged}, {"Work", FlagSeen}, {"Work", FlagFlagged}} // sorted
	for i, msg := range m2.Messages() {
		if !slices.Equal(msg.Flags, want[i]) {
			t.Errorf("UID %d: flags %v, want %v", msg.UID, msg.Flags, want[i])
		}
	}
}

// entryEnd is the offset just after the n-th entry of an index file.
func entryEnd(t *testing.T, b []byte, n int) int {
	t.Helper()
	ix, err := decodeIndex(b)
	if err != nil {
		t.Fatal(err)
	}
	p := headerSize + 4
	for _, k := range ix.keywords {
		p += 2 + len(k)
	}
	p += 4
	for i := range n {
		_, l, ok := decodeEntry(b[p:], string(b[p:]), len(ix.keywords))
		if !ok {
			t.Fatalf("entry %d", i)
		}
		p += l
	}
	return p
}

func flip(t *testing.T, path string, off int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x55
	os.WriteFile(path, b, 0o600)
}

func TestIndexDeletedWhileOpen(t *testing.T) {
	// A process that has the index in memory writes it back: UIDs kept.
	_, u, root := testUser(t, Quota{})
	mustAppend(t, u, "INBOX", "a\n")
	mustAppend(t, u, "INBOX", "b\n")
	m := mustOpen(t, u, "INBOX")
	uidv := m.Status().UIDValidity
	os.Remove(filepath.Join(root, indexFile))
	dropFile(t, root, "1800000000.x", "c\n")
	mustSync(t, m)
	if !slices.Equal(uidsOf(m), []uint32{1, 2, 3}) || m.Status().UIDValidity != uidv {
		t.Errorf("%v %+v", uidsOf(m), m.Status())
	}
	if _, err := os.Stat(filepath.Join(root, indexFile)); err != nil {
		t.Error(err)
	}
}

func TestViews(t *testing.T) {
	st, u, root := testUser(t, Quota{})
	mustAppend(t, u, "INBOX", "Subject: 1\n\n1\n")
	mustAppend(t, u, "INBOX", "Subject: 2\n\n2\n")
	a := mustOpen(t, u, "INBOX")
	b := mustOpen(t, u, "INBOX")

	woke := func(m *Mailbox) bool {
		select {
		case <-m.Updates():
			return true
		case <-time.After(time.Second):
			return false
		}
	}
	// A Store in a is seen at once in a, by b after Sync; b is woken.
	if _, err := a.Store(bg, []uint32{1}, FlagsAdd, []string{"Todo", FlagSeen}, 0); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Messages()[0].Flags, []string{"Todo", FlagSeen}) {
		t.Errorf("a: %v", a.Messages()[0].Flags)
	}
	if len(b.Messages()[0].Flags) != 0 {
		t.Errorf("b changed before Sync: %v", b.Messages()[0].Flags)
	}
	if !woke(b) {
		t.Error("b not woken by a's Store")
	}
	ch := mustSync(t, b)
	if !slices.Equal(ch.FlagsChanged, []uint32{1}) || !slices.Equal(b.Messages()[0].Flags, []string{"Todo", FlagSeen}) {
		t.Errorf("b after sync: %+v %v", ch, b.Messages()[0].Flags)
	}
	if !slices.Equal(b.Keywords(), []string{"Todo"}) {
		t.Errorf("keywords %v", b.Keywords())
	}

	// CONDSTORE: UNCHANGEDSINCE below the message's MODSEQ fails it.
	ms := a.Messages()[0].ModSeq
	failed, err := a.Store(bg, []uint32{1, 2}, FlagsAdd, []string{FlagFlagged}, ms-1)
	if err != nil || !slices.Equal(failed, []uint32{1}) {
		t.Errorf("unchangedsince: failed %v, %v", failed, err)
	}
	if a.Messages()[1].ModSeq <= ms {
		t.Errorf("message 2 modseq %d not above %d", a.Messages()[1].ModSeq, ms)
	}

	// Notify (a delivery agent) wakes every view.
	w := NewWriter("test")
	w.OnDeliver = st.Notify
	if _, err := w.Deliver(bg, Maildir(root), Content{Body: strings.NewReader("Subject: 3\n\n3\n"), Size: 14}); err != nil {
		t.Fatal(err)
	}
	if !woke(a) {
		t.Error("a not woken by Notify")
	}
	if ch := mustSync(t, a); ch.New != 1 {
		t.Errorf("a after delivery: %+v", ch)
	}

	// Expunge in a: b sees it at its Sync, with sequence numbers.
	a.Store(bg, []uint32{1, 2}, FlagsAdd, []string{FlagDeleted}, 0)
	ch, err = a.Expunge(bg, []uint32{2})
	if err != nil || !slices.Equal(ch.Expunged, []uint32{2}) || !slices.Equal(uidsOf(a), []uint32{1, 3}) {
		t.Errorf("expunge uid 2: %+v %v %v", ch, err, uidsOf(a))
	}
	ch, _ = a.Expunge(bg, nil)
	if !slices.Equal(ch.Expunged, []uint32{1}) || !slices.Equal(uidsOf(a), []uint32{3}) {
		t.Errorf("expunge all: %+v %v", ch, uidsOf(a))
	}
	ch = mustSync(t, b)
	if !slices.Equal(ch.Expunged, []uint32{2, 1}) || !slices.Equal(ch.ExpungedUIDs, []uint32{2, 1}) || ch.New != 1 {
		t.Errorf("b: %+v", ch)
	}
	if _, err := b.Open(1); !errors.Is(err, ErrNoMessage) {
		t.Errorf("open expunged: %v", err)
	}
}

func TestCopyMove(t *testing.T) {
	_, u, root := testUser(t, Quota{})
	date := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 3 {
		if _, _, err := u.Append(bg, "INBOX", strings.NewReader(fmt.Sprintf("Subject: %d\r\n\r\nx\r\n", i)), []string{"Label"}, date); err != nil {
			t.Fatal(err)
		}
	}
	in := mustOpen(t, u, "INBOX")
	tr := mustOpen(t, u, "Trash")
	uidv, src, dst, err := in.CopyTo(bg, []uint32{3, 1}, "Trash")
	if err != nil || !slices.Equal(src, []uint32{1, 3}) || !slices.Equal(dst, []uint32{1, 2}) || uidv != tr.Status().UIDValidity {
		t.Fatalf("copy: %d %v %v %v", uidv, src, dst, err)
	}
	mustSync(t, tr)
	for _, m := range tr.Messages() {
		if !m.InternalDate.Equal(date) || !slices.Equal(m.Flags, []string{"Label"}) || m.Size != in.Messages()[0].Size {
			t.Errorf("copied %+v", m)
		}
	}
	_, src, dst, ch, err := in.MoveTo(bg, []uint32{2}, "Trash")
	if err != nil || !slices.Equal(src, []uint32{2}) || !slices.Equal(dst, []uint32{3}) || !slices.Equal(ch.Expunged, []uint32{2}) {
		t.Fatalf("move: %v %v %+v %v", src, dst, ch, err)
	}
	if !slices.Equal(uidsOf(in), []uint32{1, 3}) {
		t.Errorf("INBOX after move %v", uidsOf(in))
	}
	if _, _, _, err := in.CopyTo(bg, []uint32{1}, "Nowhere"); !errors.Is(err, ErrNoMailbox) {
		t.Errorf("copy to missing: %v", err)
	}
	if _, _, _, err := in.CopyTo(bg, []uint32{1}, "../../etc"); !errors.Is(err, ErrBadName) {
		t.Errorf("copy to traversal: %v", err)
	}
	// Appended content is stored with LF endings.
	cur, _ := os.ReadDir(filepath.Join(root, ".Trash", "cur"))
	b, _ := os.ReadFile(filepath.Join(root, ".Trash", "cur", cur[0].Name()))
	if strings.Contains(string(b), "\r") {
		t.Errorf("stored with CR: %q", b)
	}
}

func TestQuota(t *testing.T) {
	st, u, root := testUser(t, Quota{Messages: 3, Bytes: 100})
	mustAppend(t, u, "INBOX", strings.Repeat("a", 39)+"\n") // 40 bytes
	mustAppend(t, u, "Sent", strings.Repeat("b", 39)+"\n")
	if _, _, err := u.Append(bg, "INBOX", strings.NewReader(strings.Repeat("c", 40)+"\n"), nil, time.Time{}); !errors.Is(err, ErrOverQuota) {
		t.Errorf("append over bytes: %v", err)
	}
	if use, _ := u.Usage(bg); use != (Usage{2, 80}) {
		t.Errorf("usage %+v", use)
	}
	// A delivery waiting in new/ counts too.
	dropFile(t, root, "1.x,S=10", "123456789\n")
	for _, tc := range []struct {
		q    Quota
		size int64
		over bool
	}{
		{Quota{}, 1 << 40, false},
		{Quota{Bytes: 100}, 10, false},
		{Quota{Bytes: 100}, 11, true},
		{Quota{Messages: 4}, 1, false},
		{Quota{Messages: 3}, 1, true},
	} {
		err := st.CheckQuota(bg, root, tc.q, tc.size)
		if errors.Is(err, ErrOverQuota) != tc.over || err != nil && !tc.over {
			t.Errorf("CheckQuota(%+v, %d) = %v", tc.q, tc.size, err)
		}
	}
	m := mustOpen(t, u, "INBOX")
	if _, _, _, err := m.CopyTo(bg, []uint32{1}, "Trash"); !errors.Is(err, ErrOverQuota) {
		t.Errorf("copy over messages: %v", err)
	}
}

func TestQuotaFor(t *testing.T) {
	def := Quota{Messages: 100, Bytes: 1 << 20}
	for _, tc := range []struct {
		rules []string
		want  Quota
		err   bool
	}{
		{nil, def, false},
		{[]string{"*:storage=100M"}, Quota{100, 100 << 20}, false},
		{[]string{"*:messages=1000"}, Quota{1000, 1 << 20}, false},
		{[]string{"*:storage=2G:messages=10"}, Quota{10, 2 << 30}, false},
		{[]string{"*:storage=+1M"}, Quota{100, 2 << 20}, false},
		{[]string{"*:storage=50%"}, Quota{100, 512 << 10}, false},
		{[]string{"*:storage=0"}, Quota{100, 0}, false},
		{[]string{"*:storage=123"}, Quota{100, 123}, false},
		{[]string{"*:ignore"}, Quota{}, false},
		{[]string{"Trash:storage=+10M"}, def, true},
		{[]string{"*:storage=lots"}, def, true},
		{[]string{"*:colour=blue"}, def, true},
		{[]string{"storage=1"}, def, true},
	} {
		got, err := QuotaFor(def, tc.rules)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("QuotaFor(%q) = %+v, %v; want %+v err=%v", tc.rules, got, err, tc.want, tc.err)
		}
	}
}

func TestUserRoot(t *testing.T) {
	for _, tc := range []struct {
		loc, user, home, want string
	}{
		{"maildir:~/Maildir", "bob", "/home/bob", "/home/bob/Maildir"},
		{"maildir:/var/vmail/%d/%n", "bob@example.org", "", "/var/vmail/example.org/bob"},
		{"maildir:/var/vmail/%u:LAYOUT=maildir++", "bob", "", "/var/vmail/bob"},
		{"maildir:%h/mail", "bob", "/home/bob", "/home/bob/mail"},
		{"maildir:~/Maildir", "bob", "", ""},
		{"mbox:~/mail", "bob", "/home/bob", ""},
		{"maildir:/v/%u", "../etc", "", ""},
		{"maildir:/v/%n", "a/b@x", "", ""},
		{"maildir:/v/%x", "bob", "", ""},
		{"maildir:relative/%u", "bob", "", ""},
		{"maildir:/v/%u:LAYOUT=fs", "bob", "", ""},
	} {
		got, err := UserRoot(tc.loc, tc.user, tc.home)
		if tc.want == "" && err == nil || tc.want != "" && (err != nil || got != tc.want) {
			t.Errorf("UserRoot(%q, %q, %q) = %q, %v; want %q", tc.loc, tc.user, tc.home, got, err, tc.want)
		}
	}
}

func TestContent(t *testing.T) {
	_, u, root := testUser(t, Quota{})
	for i, tc := range []struct {
		name, file, want string
	}{
		{"LF", "a: b\n\nbody\n", "a: b\r\n\r\nbody\r\n"},
		{"CRLF", "a: b\r\n\r\nbody\r\n", "a: b\r\n\r\nbody\r\n"},
		{"mixed", "a: b\r\n\nx\ny\r\n", "a: b\r\n\r\nx\r\ny\r\n"},
		{"no final newline", "a: b\n\nlast", "a: b\r\n\r\nlast"},
		{"bare CR", "a\rb\n\r\r\n", "a\rb\r\n\r\r\n"},
		{"empty", "", ""},
		{"only LFs", "\n\n\n", "\r\n\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dropFile(t, root, fmt.Sprintf("17%08d.M%dP1.host", i, i), tc.file)
			m := mustOpen(t, u, "INBOX")
			msg := m.Messages()[len(m.Messages())-1]
			if msg.Size != int64(len(tc.want)) {
				t.Errorf("Size %d, want %d", msg.Size, len(tc.want))
			}
			r, err := m.Open(msg.UID)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, _ := io.ReadAll(r)
			if string(got) != tc.want {
				t.Errorf("content %q, want %q", got, tc.want)
			}
			// Every offset, and small reads across the inserted CRs.
			for off := int64(0); off <= int64(len(tc.want)); off++ {
				if _, err := r.Seek(off, io.SeekStart); err != nil {
					t.Fatal(err)
				}
				var rest []byte
				buf := make([]byte, 1+off%3)
				for {
					n, err := r.Read(buf)
					rest = append(rest, buf[:n]...)
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
				}
				if string(rest) != tc.want[off:] {
					t.Errorf("from %d: %q, want %q", off, rest, tc.want[off:])
				}
			}
			if end, _ := r.Seek(0, io.SeekEnd); end != int64(len(tc.want)) {
				t.Errorf("SeekEnd %d", end)
			}
		})
	}
}

func TestAppendSizes(t *testing.T) {
	_, u, root := testUser(t, Quota{})
	for _, in := range []string{"a\r\nb\r\n", "a\nb\n", "a\r\r\nb", "x\r"} {
		uid := mustAppend(t, u, "INBOX", in)
		m := mustOpen(t, u, "INBOX")
		msg := m.Messages()[len(m.Messages())-1]
		r, _ := m.Open(uid)
		got, _ := io.ReadAll(r)
		r.Close()
		if int64(len(got)) != msg.Size {
			t.Errorf("%q: read %q, Size %d", in, got, msg.Size)
		}
		// ,W= in the name is what a rebuild reads.
		if !strings.Contains(findFile(t, root, ""), fmt.Sprintf(",W=%d", msg.Size)) {
			t.Errorf("%q: no W=%d in names", in, msg.Size)
		}
	}
}

func findFile(t *testing.T, dir, prefix string) string {
	ents, _ := os.ReadDir(filepath.Join(dir, "cur"))
	var s []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			s = append(s, e.Name())
		}
	}
	return strings.Join(s, " ")
}

func TestCachePersists(t *testing.T) {
	st, u, root := testUser(t, Quota{})
	mustAppend(t, u, "INBOX", "a\n")
	mustAppend(t, u, "INBOX", "b\n")
	m := mustOpen(t, u, "INBOX")
	m.SetCache(1, "envelope", []byte("(NIL)"))
	m.SetCache(2, "bodystructure", []byte("(TEXT)"))
	m.SetCache(99, "envelope", []byte("nope"))
	m.Close()
	st.Close()

	st2 := New(Options{})
	defer st2.Close()
	u2, _ := st2.OpenUser(bg, root, Quota{})
	m2 := mustOpen(t, u2, "INBOX")
	if v, ok := m2.Cache(1, "envelope"); !ok || string(v) != "(NIL)" {
		t.Errorf("cache 1: %q %v", v, ok)
	}
	if v, ok := m2.Cache(2, "bodystructure"); !ok || string(v) != "(TEXT)" {
		t.Errorf("cache 2: %q %v", v, ok)
	}
	if _, ok := m2.Cache(99, "envelope"); ok {
		t.Error("cache for a missing message")
	}
	// A damaged tail loses only the damaged record.
	b, _ := os.ReadFile(filepath.Join(root, cacheFile))
	os.WriteFile(filepath.Join(root, cacheFile), b[:len(b)-2], 0o600)
	m2.Close()
	st2.Close()
	st3 := New(Options{})
	defer st3.Close()
	u3, _ := st3.OpenUser(bg, root, Quota{})
	m3 := mustOpen(t, u3, "INBOX")
	_, ok1 := m3.Cache(1, "envelope")
	_, ok2 := m3.Cache(2, "bodystructure")
	if ok1 == ok2 {
		t.Errorf("damaged tail: %v %v", ok1, ok2)
	}
}

func TestSecondProcess(t *testing.T) {
	// Two Stores on one tree stand for two processes: flock and the
	// index file keep them consistent.
	_, u1, root := testUser(t, Quota{})
	st2 := New(Options{})
	defer st2.Close()
	u2, _ := st2.OpenUser(bg, root, Quota{})
	a := mustOpen(t, u1, "INBOX")
	mustAppend(t, u2, "INBOX", "one\n")
	mustAppend(t, u1, "INBOX", "two\n")
	b := mustOpen(t, u2, "INBOX")
	mustSync(t, a)
	if !slices.Equal(uidsOf(a), []uint32{1, 2}) || !slices.Equal(uidsOf(b), []uint32{1, 2}) {
		t.Fatalf("a %v b %v", uidsOf(a), uidsOf(b))
	}
	if _, err := b.Store(bg, []uint32{2}, FlagsSet, []string{FlagAnswered}, 0); err != nil {
		t.Fatal(err)
	}
	ch := mustSync(t, a)
	if !slices.Equal(ch.FlagsChanged, []uint32{2}) || !slices.Equal(a.Messages()[1].Flags, []string{FlagAnswered}) {
		t.Errorf("a: %+v %v", ch, a.Messages()[1].Flags)
	}
}

func TestDeletedMailboxView(t *testing.T) {
	_, u, _ := testUser(t, Quota{})
	m := mustOpen(t, u, "Junk")
	if err := u.Delete(bg, "Junk"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Sync(bg); !errors.Is(err, ErrNoMailbox) {
		t.Errorf("sync of deleted: %v", err)
	}
}

// TestUsageAfterAppend: what APPEND adds counts at once, in every
// situation a session meets (a view open on the folder or not, a fresh
// folder without an index yet, a delivery waiting in new/), so that
// QUOTA GETQUOTAROOT after APPEND shows it.
func TestUsageAfterAppend(t *testing.T) {
	_, u, root := testUser(t, Quota{Messages: 100, Bytes: 1 << 20})
	want := Usage{}
	check := func(what string) {
		t.Helper()
		got, err := u.Usage(bg)
		if err != nil || got != want {
			t.Errorf("%s: usage %+v, %v; want %+v", what, got, err, want)
		}
	}
	check("empty tree")
	mustAppend(t, u, "INBOX", "Subject: a\n\nhello\n") // 18 bytes
	want = Usage{1, 18}
	check("first append")
	m := mustOpen(t, u, "INBOX")
	defer m.Close()
	mustAppend(t, u, "INBOX", "Subject: b\n\nhello\n")
	want = Usage{2, 36}
	check("append with a view open")
	if err := u.Create(bg, "Fresh", ""); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, u, "Fresh", "x\n")
	want = Usage{3, 38}
	check("append to a new folder")
	dropFile(t, root, "1.y,S=3", "yy\n")
	want = Usage{4, 41}
	check("delivery in new/")
	if _, err := m.Sync(bg); err != nil { // moves it to cur/, rewrites the index
		t.Fatal(err)
	}
	check("after the view's sync")
}

// TestAppendDate: the APPEND date-time's instant is kept; it is shown in
// the server's zone, its offset is not kept (as Dovecot's Maildir does:
// the file's mtime is the internal date).
func TestAppendDate(t *testing.T) {
	_, u, _ := testUser(t, Quota{})
	date := time.Date(2021, 7, 14, 2, 44, 25, 0, time.FixedZone("", 2*3600))
	if _, _, err := u.Append(bg, "INBOX", strings.NewReader("Subject: d\n\n"), nil, date); err != nil {
		t.Fatal(err)
	}
	m := mustOpen(t, u, "INBOX")
	defer m.Close()
	got := m.Messages()[0].InternalDate
	if !got.Equal(date) || got.Location() != time.Local {
		t.Errorf("internal date %v (%v), want %v in the local zone", got, got.Location(), date)
	}
}

// TestNoChangeNoListing: syncs of a folder nobody changed do not list
// cur/ (f.scans counts its listings); a delivery into new/ lists only
// new/; this process's own flag changes need no listing until the dirty
// window has passed; another program's rename is seen at once.
func TestNoChangeNoListing(t *testing.T) {
	_, u, root := testUser(t, Quota{})
	for i := range 3 {
		mustAppend(t, u, "INBOX", fmt.Sprintf("Subject: %d\n\nbody\n", i))
	}
	m := mustOpen(t, u, "INBOX")
	f := m.impl.f
	scans := func() int { f.mu.Lock(); defer f.mu.Unlock(); return f.scans }
	old := time.Now().Add(-time.Hour)
	for _, d := range []string{"new", "cur"} {
		os.Chtimes(filepath.Join(root, d), old, old)
	}
	mustSync(t, m) // mtimes changed: listed once, now settled
	n := scans()
	for range 3 {
		mustSync(t, m)
	}
	other := mustOpen(t, u, "INBOX")
	if _, err := u.Status(bg, "INBOX"); err != nil {
		t.Fatal(err)
	}
	if got := scans(); got != n {
		t.Fatalf("unchanged folder listed %d times", got-n)
	}
	// A new process reading the index trusts it too.
	st2 := New(Options{})
	defer st2.Close()
	u2, err := st2.OpenUser(bg, root, Quota{})
	if err != nil {
		t.Fatal(err)
	}
	m2, err := u2.Open(bg, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if m2.impl.f.scans != 0 {
		t.Errorf("second store listed cur/ %d times", m2.impl.f.scans)
	}
	m2.Close()

	if _, err := m.Store(bg, []uint32{1, 2, 3}, FlagsAdd, []string{FlagSeen}, 0); err != nil {
		t.Fatal(err)
	}
	if ch := mustSync(t, other); len(ch.FlagsChanged) != 3 || scans() != n {
		t.Errorf("after own STORE: %+v, %d listings", ch, scans()-n)
	}

	dropFile(t, root, "1700000000.M1P1.other", "Subject: new\n\n4\n")
	if ch := mustSync(t, m); ch.New != 1 || scans() != n {
		t.Errorf("after a delivery: %+v, %d listings", ch, scans()-n)
	}

	// mutt renames a file: cur/'s mtime changes, listed at once.
	cur, _ := os.ReadDir(filepath.Join(root, "cur"))
	for _, e := range cur {
		if strings.HasPrefix(e.Name(), "1700000000.M1P1.other") {
			os.Rename(filepath.Join(root, "cur", e.Name()), filepath.Join(root, "cur", "1700000000.M1P1.other:2,F"))
		}
	}
	if ch := mustSync(t, m); !slices.Equal(ch.FlagsChanged, []uint32{4}) || scans() != n+1 {
		t.Errorf("after a rename: %+v, %d listings", ch, scans()-n)
	}

	// An unsettled listing is made again once the dirty window passed.
	f.mu.Lock()
	f.ix.curCheck = f.ix.curMtime - int64(3*time.Second) // listed 3 s before the last change
	f.mu.Unlock()
	mustSync(t, m)
	if scans() != n+2 {
		t.Errorf("unsettled cur/ not listed again: %d listings", scans()-n)
	}
}

// TestDeliveryOrder: new files get UIDs in delivery order, with the
// microseconds compared as numbers (other programs do not pad them).
func TestDeliveryOrder(t *testing.T) {
	names := []string{
		"1700000001.M100000P1Q1.host,S=10",
		"1700000001.M99999P1Q2.host,S=10",
		"noTime.host",
		"1700000000.M5P1Q3.host",
		"999999999.M1P1.host",
		"1700000001.M99999P1Q1.host,S=10",
	}
	want := []string{
		"999999999.M1P1.host",
		"1700000000.M5P1Q3.host",
		"1700000001.M99999P1Q1.host,S=10",
		"1700000001.M99999P1Q2.host,S=10",
		"1700000001.M100000P1Q1.host,S=10",
		"noTime.host",
	}
	got := slices.Clone(names)
	slices.SortFunc(got, deliveryOrder)
	if !slices.Equal(got, want) {
		t.Errorf("order:\n got %q\nwant %q", got, want)
	}
}
