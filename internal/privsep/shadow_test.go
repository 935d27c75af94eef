package privsep

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailhorn/internal/auth/password"
	"mailhorn/internal/deliver"
)

func shadowFiles(t *testing.T) ShadowFiles {
	t.Helper()
	dir := t.TempDir()
	// "secret" in SHA-512 crypt (openssl passwd -6 -salt abc secret).
	const h = "$6$abc$IdWKNKTJEb8LxY7CGg8YBXlvtfZzFw7Mp/r6niK9YB2mdvgY..TKjv1T..8RadRt2qvUHYRLr/TsVArtr91iR1"
	pw := strings.Join([]string{
		"root:x:0:0:root:/root:/bin/bash",
		"alice:x:1000:1000:Alice:/home/alice:/bin/bash",
		"locked:x:1001:1001::/home/locked:/bin/sh",
		"bang:x:1002:1002::/home/bang:/bin/sh",
		"empty:x:1003:1003::/home/empty:/bin/sh",
		"yes:x:1004:1004::/home/yes:/bin/sh",
		"noshadow:x:1005:1005::/home/noshadow:/bin/sh",
	}, "\n") + "\n"
	sh := strings.Join([]string{
		"root:" + h + ":19000:0:99999:7:::",
		"alice:" + h + ":19000:0:99999:7:::",
		"locked:*:19000:0:99999:7:::",
		"bang:!" + h + ":19000:0:99999:7:::",
		"empty::19000:0:99999:7:::",
		"yes:$y$j9T$F5Jx5fExrKuPp53xLKQ..1$GmcwIgvdUC9qLWcKCi6gklUa1dM3ziD43YxYNURLKy0:19000:0:99999:7:::",
	}, "\n") + "\n"
	f := ShadowFiles{Passwd: filepath.Join(dir, "passwd"), Shadow: filepath.Join(dir, "shadow")}
	if err := os.WriteFile(f.Passwd, []byte(pw), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.Shadow, []byte(sh), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestCheckShadow(t *testing.T) {
	files := shadowFiles(t)
	tests := []struct {
		user, pw string
		want     error // nil: accepted
	}{
		{"alice", "secret", nil},
		{"alice", "wrong", ErrShadowRefused},
		{"root", "secret", ErrShadowRefused},   // never root
		{"locked", "secret", ErrShadowRefused}, // "*"
		{"bang", "secret", ErrShadowRefused},   // "!" before a valid hash
		{"empty", "", ErrShadowRefused},        // empty hash: no password login
		{"nobody-here", "secret", ErrShadowRefused},
		{"noshadow", "secret", ErrShadowRefused},
		{"yes", "secret", password.ErrUnsupported}, // yescrypt
		{"ali:ce", "secret", ErrShadowRefused},
	}
	for _, tt := range tests {
		a, err := CheckShadow(files, tt.user, tt.pw)
		if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
			t.Errorf("CheckShadow(%s, %s) = %+v, %v; want %v", tt.user, tt.pw, a, err, tt.want)
		}
		if tt.want == nil && (a.UID != 1000 || a.GID != 1000 || a.Home != "/home/alice") {
			t.Errorf("CheckShadow(%s) account = %+v", tt.user, a)
		}
	}
	if _, err := CheckShadow(ShadowFiles{Passwd: files.Passwd, Shadow: "/nonexistent"}, "alice", "secret"); err == nil || errors.Is(err, ErrShadowRefused) {
		t.Errorf("unreadable shadow: %v, want an I/O error", err)
	}
}

// shadowRunner answers OpShadow from test files, as the parent does from
// /etc/shadow.
type shadowRunner struct{ files ShadowFiles }

func (r shadowRunner) Run(ctx context.Context, req *Request) (Result, error) {
	return shadowResult(req, r.files), nil
}

// TestShadowOverSocket: the password travels in the content pipe of the
// privsep socket, and the answer decodes on the other side.
func TestShadowOverSocket(t *testing.T) {
	files := shadowFiles(t)
	parent, child, err := SocketPair()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go Serve(ctx, parent, shadowRunner{files})
	c, err := NewClient(child)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tt := range []struct {
		pw   string
		want error
	}{{"secret", nil}, {"wrong", ErrShadowRefused}, {strings.Repeat("x", 5000), ErrShadowRefused}} {
		res, err := c.Run(ctx, &Request{Op: OpShadow, As: Identity{User: "alice"}, Content: strings.NewReader(tt.pw)})
		if err != nil {
			t.Fatal(err)
		}
		a, err := ShadowAnswer(res)
		if !errors.Is(err, tt.want) || (tt.want == nil && (err != nil || a.UID != 1000)) {
			t.Errorf("password %.10q: %+v, %v; want %v", tt.pw, a, err, tt.want)
		}
	}
	res, _ := c.Run(ctx, &Request{Op: OpShadow, As: Identity{User: "yes"}, Content: strings.NewReader("secret")})
	if _, err := ShadowAnswer(res); !errors.Is(err, password.ErrUnsupported) {
		t.Errorf("yescrypt answer: %v", err)
	}
	if res, _ := c.Run(ctx, &Request{Op: OpShadow, Content: strings.NewReader("x")}); res.Status != deliver.Deferred {
		t.Errorf("request without a user: %+v", res)
	}
}

// The Spawner answers OpShadow itself from the system files: root is
// refused whatever the password, without starting a helper.
func TestSpawnerShadowRefusesRoot(t *testing.T) {
	s := &Spawner{Exe: "/nonexistent"}
	res, err := s.Run(context.Background(), &Request{Op: OpShadow, As: Identity{User: "root"}, Content: strings.NewReader("x")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ShadowAnswer(res); err == nil {
		t.Errorf("root accepted: %+v", res)
	}
}
