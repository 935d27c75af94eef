package master

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"mailhorn/internal/config"
)

func TestListensAndSocketPath(t *testing.T) {
	cfg, err := config.FromMap(map[string]string{"queue_directory": "/q"})
	if err != nil {
		t.Fatal(err)
	}
	services, err := config.ParseMaster("master.cf", `smtp inet n - n - - smtpd
127.0.0.1:24 inet n - n - - lmtpd
lmtpd unix n - n - - lmtpd
lmtpd2 unix - - n - - lmtpd
sub/lmtpd unix - - n - - lmtpd
/run/mh/lmtp unix - - n - - lmtpd
lmtp unix - - n - - lmtp
smtp unix - - n - - smtp
`)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		listens bool
		path    string // unix only
	}{
		{true, ""},
		{true, ""},
		{true, "/q/public/lmtpd"},
		{true, "/q/private/lmtpd2"},
		{true, "/q/sub/lmtpd"},
		{true, "/run/mh/lmtp"},
		{false, ""},
		{false, ""},
	}
	for i, svc := range services {
		if got := listens(svc); got != want[i].listens {
			t.Errorf("%s/%s %s: listens = %v, want %v", svc.Name, svc.Type, svc.Command, got, want[i].listens)
		}
		if want[i].path != "" {
			if got := unixSocketPath(cfg, svc); got != want[i].path {
				t.Errorf("%s: socket path %s, want %s", svc.Name, got, want[i].path)
			}
		}
	}
}

// TestListenUnix: a private/ socket directory is made 0700, the socket is
// 0666, a stale socket is replaced, and a plain file in the way is an
// error, never removed.
func TestListenUnix(t *testing.T) {
	q := t.TempDir()
	cfg, err := config.FromMap(map[string]string{"queue_directory": q})
	if err != nil {
		t.Fatal(err)
	}
	svc := config.Service{Name: "lmtpd", Type: "unix", Private: true, Command: "lmtpd"}
	ctx := context.Background()
	for i := 0; i < 2; i++ { // the second bind replaces the first's socket
		ln, err := listenUnix(ctx, cfg, svc)
		if err != nil {
			t.Fatalf("bind %d: %v", i, err)
		}
		ln.Close()
	}
	path := filepath.Join(q, "private", "lmtpd")
	st, err := os.Stat(path)
	if err != nil || st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o666 {
		t.Fatalf("socket %s: %v %v, want a socket, mode 0666", path, st, err)
	}
	if st, _ := os.Stat(filepath.Dir(path)); st.Mode().Perm() != 0o700 {
		t.Errorf("private/ mode %v, want 0700", st.Mode().Perm())
	}
	os.Remove(path)
	os.WriteFile(path, []byte("not a socket"), 0o644)
	if ln, err := listenUnix(ctx, cfg, svc); err == nil {
		ln.Close()
		t.Fatal("bound over a regular file")
	}
	if b, _ := os.ReadFile(path); string(b) != "not a socket" {
		t.Error("the file in the way was touched")
	}
}
