package privsep

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"

	"mailhorn/internal/deliver"
)

func TestOpRead(t *testing.T) {
	u, err := user.Current()
	if err != nil {
		t.Skip(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte("\\me, other@example.com\n"), 0o644)
	loose := filepath.Join(dir, "loose")
	os.WriteFile(loose, []byte("x\n"), 0o644)
	os.Chmod(loose, 0o666)
	link := filepath.Join(dir, "link")
	os.Symlink(good, link)

	r := &InProcess{}
	for _, tc := range []struct {
		path   string
		status deliver.Status
		absent bool
		data   string
	}{
		{good, deliver.Sent, false, "\\me, other@example.com\n"},
		{filepath.Join(dir, "missing"), deliver.Sent, true, ""},
		{loose, deliver.Bounced, false, ""}, // world-writable: ignored
		{link, deliver.Bounced, false, ""},  // a symbolic link: ignored
	} {
		res, err := r.Run(context.Background(), &Request{
			Op: OpRead, Source: SourceForward, Path: tc.path,
			As: Identity{User: u.Username, UID: uid, GID: gid},
		})
		if err != nil || res.Status != tc.status || res.Absent != tc.absent || string(res.Data) != tc.data {
			t.Errorf("%s: %+v, %v; want status %v absent %v data %q", filepath.Base(tc.path), res, err, tc.status, tc.absent, tc.data)
		}
	}
	// Only a user's .forward is read this way.
	res, _ := r.Run(context.Background(), &Request{Op: OpRead, Source: SourceAlias, Path: good, As: Identity{UID: uid, GID: gid}})
	if res.Status != deliver.Deferred {
		t.Errorf("OpRead for an alias: %+v, want refused", res)
	}
}
