package cleanup

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"mailhorn/internal/config"
)

// TestDefaultsMatchPostfix compares DefaultOptions with postconf -d.
func TestDefaultsMatchPostfix(t *testing.T) {
	postconf := "/usr/sbin/postconf"
	if _, err := os.Stat(postconf); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("postconf is required in CI: %v", err)
		}
		t.Skipf("Postfix's postconf not installed (%v): skipping the comparison with Postfix", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.cf"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	names := []string{"header_size_limit", "hopcount_limit", "message_size_limit", "duplicate_filter_limit",
		"enable_original_recipient", "always_add_missing_headers", "undisclosed_recipients_header",
		"message_drop_headers", "empty_address_recipient", "remote_header_rewrite_domain"}
	out, err := exec.Command(postconf, append([]string{"-d", "-c", dir}, names...)...).Output()
	if err != nil {
		t.Fatalf("postconf: %v", err)
	}
	pf := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(line, " = ")
		pf[strings.TrimSpace(k)] = v
	}
	o := DefaultOptions()
	yesno := map[bool]string{true: "yes", false: "no"}
	got := map[string]string{
		"header_size_limit":             strconv.Itoa(o.HeaderSizeLimit),
		"hopcount_limit":                strconv.Itoa(o.HopcountLimit),
		"message_size_limit":            strconv.FormatInt(o.MessageSizeLimit, 10),
		"duplicate_filter_limit":        strconv.Itoa(o.DuplicateFilterLimit),
		"enable_original_recipient":     yesno[o.EnableOriginalRecipient],
		"always_add_missing_headers":    yesno[o.AlwaysAddMissingHeaders],
		"undisclosed_recipients_header": o.UndisclosedRecipientsHeader,
		"message_drop_headers":          strings.Join(o.DropHeaders, ", "),
		"empty_address_recipient":       o.EmptyAddressRecipient,
		"remote_header_rewrite_domain":  o.RemoteHeaderRewriteDomain,
	}
	for _, n := range names {
		if got[n] != pf[n] {
			t.Errorf("%s: ours %q, Postfix %q", n, got[n], pf[n])
		}
	}
}

func TestOptionsFromConfig(t *testing.T) {
	cfg, err := config.FromMap(map[string]string{
		"myhostname":                   "mx.example.test",
		"myorigin":                     "example.test",
		"header_size_limit":            "2000",
		"hopcount_limit":               "7",
		"message_size_limit":           "5000",
		"remote_header_rewrite_domain": "domain.invalid",
	})
	if err != nil {
		t.Fatal(err)
	}
	o := OptionsFromConfig(cfg)
	if o.Hostname != "mx.example.test" || o.Myorigin != "example.test" || o.HeaderSizeLimit != 2000 ||
		o.HopcountLimit != 7 || o.MessageSizeLimit != 5000 || o.RemoteHeaderRewriteDomain != "domain.invalid" {
		t.Errorf("options = %+v", o)
	}
	// Parameters the configuration does not declare keep Postfix's defaults.
	d := DefaultOptions()
	if !cfg.Known("duplicate_filter_limit") && o.DuplicateFilterLimit != d.DuplicateFilterLimit {
		t.Errorf("duplicate_filter_limit = %d", o.DuplicateFilterLimit)
	}
	if !cfg.Known("message_drop_headers") && strings.Join(o.DropHeaders, ",") != strings.Join(d.DropHeaders, ",") {
		t.Errorf("message_drop_headers = %v", o.DropHeaders)
	}
}
