package smtp

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"mailhorn/internal/config"
)

func loadConfig(t *testing.T, maincf string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.cf"), []byte(maincf), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(dir, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestOptionsFromConfig: an empty main.cf gives DefaultOptions (Postfix's
// defaults), and each parameter lands where it should.
func TestOptionsFromConfig(t *testing.T) {
	for _, lmtp := range []bool{false, true} {
		o, err := OptionsFromConfig(loadConfig(t, "myhostname = h.test\n"), lmtp)
		if err != nil {
			t.Fatal(err)
		}
		want := DefaultOptions(lmtp)
		want.HeloName = "h.test"
		if lmtp {
			want.TLSLevel = "" // lmtp_tls_security_level's default; "" means none for LMTP
		}
		if !reflect.DeepEqual(o, want) {
			t.Errorf("lmtp=%v: empty main.cf gives\n%+v\nwant\n%+v", lmtp, o, want)
		}
	}
	o, err := OptionsFromConfig(loadConfig(t, `myhostname = h.test
smtp_helo_name = client.example
smtp_connect_timeout = 5
smtp_data_done_timeout = 2m
smtp_mx_address_limit = 3
smtp_tls_security_level = verify
smtp_connection_cache_on_demand = no
smtp_fallback_relay = [backup.example]:2525
inet_protocols = ipv4
smtp_sasl_auth_enable = yes
smtp_sasl_password_maps = inline:{ [relay.example]:587=u:p }
`), false)
	if err != nil {
		t.Fatal(err)
	}
	if o.HeloName != "client.example" || o.Timeouts.Connect != 5*time.Second || o.Timeouts.DataDone != 2*time.Minute ||
		o.MXAddressLimit != 3 || o.TLSLevel != TLSVerify || o.CacheTime != 0 || networkFor(o.Protocols) != "ip4" ||
		len(o.FallbackRelay) != 1 || !o.SASL || o.Passwords == nil {
		t.Errorf("options %+v", o)
	}
	if _, err := OptionsFromConfig(loadConfig(t, "smtp_tls_CAfile = /nonexistent/ca.pem\n"), false); err == nil {
		t.Error("a missing smtp_tls_CAfile is not an error")
	}
}
