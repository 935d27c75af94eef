package config

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

// fakeHost is a host with a fixed name and addresses, so tests do not
// depend on the machine.
func fakeHost(name string) host {
	return host{
		hostname: func() (string, error) { return name, nil },
		addrs: func() ([]net.Addr, error) {
			var out []net.Addr
			for _, c := range []string{"127.0.0.1/8", "::1/128", "192.0.2.7/24", "172.16.1.2/12", "2001:db8::5/64"} {
				ip, n, _ := net.ParseCIDR(c)
				out = append(out, &net.IPNet{IP: ip, Mask: n.Mask})
			}
			return out, nil
		},
	}
}

// writeDir creates a configuration directory with the given main.cf (and
// master.cf when not empty).
func writeDir(t *testing.T, mainCF, masterCF string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.cf"), []byte(mainCF), 0o644); err != nil {
		t.Fatal(err)
	}
	if masterCF != "" {
		if err := os.WriteFile(filepath.Join(dir, "master.cf"), []byte(masterCF), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// loadText loads a main.cf text with a fake host and returns the config and
// the warnings.
func loadText(t *testing.T, mainCF string) (*Config, []string, error) {
	t.Helper()
	dir := writeDir(t, mainCF, "")
	var warnings []string
	c, err := load(dir, fakeHost("box"), func(s string) { warnings = append(warnings, s) })
	return c, warnings, err
}
