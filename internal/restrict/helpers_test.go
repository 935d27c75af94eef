package restrict

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailhorn/internal/anvil"
	"mailhorn/internal/config"
	"mailhorn/internal/maillog"
	"mailhorn/internal/rewrite"
	"mailhorn/internal/smtpd"
)

// fakeDNS answers from maps; names not in any map do not exist, names in
// tempfail fail temporarily.
type fakeDNS struct {
	hosts    map[string][]string
	mx       map[string][]*net.MX
	txt      map[string][]string
	ptr      map[string][]string
	tempfail map[string]bool
}

func (f *fakeDNS) err(name string) error {
	if f.tempfail[name] {
		return &net.DNSError{Err: "server failure", Name: name, IsTemporary: true}
	}
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (f *fakeDNS) LookupHost(_ context.Context, h string) ([]string, error) {
	if v, ok := f.hosts[h]; ok {
		return v, nil
	}
	return nil, f.err(h)
}

func (f *fakeDNS) LookupMX(_ context.Context, h string) ([]*net.MX, error) {
	if v, ok := f.mx[h]; ok {
		return v, nil
	}
	return nil, f.err(h)
}

func (f *fakeDNS) LookupAddr(_ context.Context, a string) ([]string, error) {
	if v, ok := f.ptr[a]; ok {
		return v, nil
	}
	return nil, f.err(a)
}

func (f *fakeDNS) LookupTXT(_ context.Context, h string) ([]string, error) {
	if v, ok := f.txt[h]; ok {
		return v, nil
	}
	return nil, f.err(h)
}

// testDNS is the DNS the tests see: a DNS block list at rbl.test listing
// 192.0.2.66 (127.0.0.2) and 192.0.2.67 (127.0.0.4), an allow list at
// wl.test, an RHS list at rhsbl.test, and a few mail domains.
func testDNS() *fakeDNS {
	return &fakeDNS{
		hosts: map[string][]string{
			"66.2.0.192.rbl.test":     {"127.0.0.2"},
			"67.2.0.192.rbl.test":     {"127.0.0.4"},
			"10.2.0.192.wl.test":      {"127.0.0.2"},
			"spammer.test.rhsbl.test": {"127.0.0.2"},
			"a-only.test":             {"192.0.2.80"},
			"helo.example.test":       {"192.0.2.81"},
		},
		mx: map[string][]*net.MX{
			"example.org": {{Host: "mx.example.org.", Pref: 10}},
			"nullmx.test": {{Host: ".", Pref: 0}},
		},
		txt: map[string][]string{
			"66.2.0.192.rbl.test": {"listed for spam", "see http://rbl.test/"},
		},
		ptr:      map[string][]string{"192.0.2.20": {"ptr.example.test."}},
		tempfail: map[string]bool{"tempfail.test": true, "11.2.0.192.wl.test": true},
	}
}

// setup is a configured policy with its logs.
type setup struct {
	p     *Policy
	log   *bytes.Buffer
	anvil *anvil.Anvil
	clock *time.Time
	dir   string
}

// newSetup writes main.cf (base settings, then extra) and builds a policy.
// Tables named in extra live in the directory as @DIR@/name; files gives
// their contents.
func newSetup(t *testing.T, extra string, files map[string]string) *setup {
	t.Helper()
	s, err := trySetup(t, extra, files)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func trySetup(t *testing.T, extra string, files map[string]string) (*setup, error) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base := `myhostname = mx.example.test
mydomain = example.test
myorigin = example.test
mydestination = example.test, localhost
inet_interfaces = all
mynetworks = 127.0.0.0/8 192.0.2.0/28
relay_domains = relay.test
local_recipient_maps = inline:{bob@example.test=x, carol@example.test=x}
alias_maps =
recipient_delimiter = +
`
	main := base + unregisteredDefaults() + strings.ReplaceAll(extra, "@DIR@", dir) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "main.cf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(dir, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	rw, err := rewrite.New(context.Background(), cfg, rewrite.Options{
		InterfaceAddrs: func() ([]netip.Addr, error) { return []netip.Addr{netip.MustParseAddr("192.0.2.254")}, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rw.Close() })
	var logBuf bytes.Buffer
	now := time.Date(2024, 3, 5, 14, 0, 0, 0, time.UTC)
	clock := &now
	an := anvil.New(func() time.Time { return *clock })
	ml := maillog.New(&logBuf, "mailhorn", "mx").WithClock(func() time.Time { return now })
	p, err := New(cfg, Deps{Rewriter: rw, Anvil: an, MailLog: ml.Service("smtpd"), Resolver: testDNS()})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { p.Close() })
	return &setup{p: p, log: &logBuf, anvil: an, clock: clock, dir: dir}, nil
}

// client is a session's Info: a client outside mynetworks by default.
func client(addr string) *smtpd.Info {
	return &smtpd.Info{Addr: netip.MustParseAddr(addr), Name: "unknown", Protocol: "ESMTP"}
}

// reply renders a Reply as the client sees it, "" for nil.
func reply(r *smtpd.Reply) string {
	if r == nil {
		return ""
	}
	return r.String()
}

// unregisteredDefaults sets the Postfix defaults of this package's
// parameters that the configuration registry does not know yet (until
// config.restrictParams is registered), so that the tests see Postfix's
// defaults either way.
func unregisteredDefaults() string {
	defaults := [][2]string{
		{"smtpd_delay_reject", "yes"}, {"smtpd_null_access_lookup_key", "<>"},
		{"smtpd_reject_unlisted_sender", "no"},
		{"default_rbl_reply", "$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using $rbl_domain${rbl_reason?; $rbl_reason}"},
		{"maps_rbl_reject_code", "554"}, {"unknown_address_reject_code", "450"},
		{"unknown_address_tempfail_action", "defer_if_permit"}, {"unknown_helo_hostname_tempfail_action", "defer_if_permit"},
		{"unknown_hostname_reject_code", "450"}, {"unknown_client_reject_code", "450"},
		{"invalid_hostname_reject_code", "501"}, {"non_fqdn_reject_code", "504"},
		{"plaintext_reject_code", "450"}, {"allow_untrusted_routing", "no"},
	}
	var b strings.Builder
	for _, d := range defaults {
		if _, ok := config.Lookup(d[0]); !ok {
			b.WriteString(d[0] + " = " + d[1] + "\n")
		}
	}
	return b.String()
}
