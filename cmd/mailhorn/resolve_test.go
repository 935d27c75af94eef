package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runResolveTest(t *testing.T, mainCF string, args ...string) (string, string, int) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.cf"), []byte(mainCF), 0o644); err != nil {
		t.Fatal(err)
	}
	return runCommand(t, runResolve, "", append([]string{"-c", dir}, args...)...)
}

const resolveMainCF = `myhostname = mail.example.com
mydomain = example.com
myorigin = $myhostname
mydestination = $myhostname, localhost
inet_interfaces = loopback-only
relayhost = [smarthost.example.com]:587
relay_domains = relay.example
virtual_alias_maps = inline:{ {info@alias.example = alice@mail.example.com, bob@example.net} }
masquerade_domains = example.com
`

func TestResolveCommand(t *testing.T) {
	out, errs, code := runResolveTest(t, resolveMainCF, "info@alias.example", "user@relay.example", "root")
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	for _, want := range []string{
		"info@alias.example\n  canonical:  info@alias.example\n  virtual:    alice@mail.example.com, bob@example.net\n",
		"  alice@mail.example.com\n  class:      local\n  transport:  local\n  nexthop:    mail.example.com\n",
		"  bob@example.net\n  class:      default\n  transport:  smtp\n  nexthop:    [smarthost.example.com]:587\n  recipient:  bob@example.net\n  flags:      relayhost\n",
		"user@relay.example\n  canonical:  user@relay.example\n  class:      relay\n  transport:  relay\n  nexthop:    [smarthost.example.com]:587\n",
		"root\n  canonical:  root@mail.example.com\n  class:      local\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestResolveCommandSender(t *testing.T) {
	out, errs, code := runResolveTest(t, resolveMainCF, "-s", "joe@host.example.com")
	want := "joe@host.example.com\n  canonical:  joe@host.example.com\n  masquerade: joe@example.com\n"
	if code != 0 || out != want {
		t.Errorf("exit %d, stderr %q, output\n%s\nwant\n%s", code, errs, out, want)
	}
}

func TestResolveCommandErrors(t *testing.T) {
	if _, errs, code := runResolveTest(t, "", `"unterminated@example.com`); code != 1 || !strings.Contains(errs, "mailhorn resolve: fatal: bad address") {
		t.Errorf("bad address: exit %d, stderr %q", code, errs)
	}
	if _, errs, code := runResolveTest(t, ""); code != 2 || !strings.Contains(errs, "usage:") {
		t.Errorf("no address: exit %d, stderr %q", code, errs)
	}
	if _, errs, code := runResolveTest(t, "transport_maps = nosuchtype:/x\n", "a@b.example"); code != 1 || !strings.Contains(errs, "transport_maps") {
		t.Errorf("bad table: exit %d, stderr %q", code, errs)
	}
}
