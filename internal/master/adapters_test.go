package master

import (
	"testing"

	"mailhorn/internal/cleanup"
	"mailhorn/internal/rewrite"
)

// cleanupRewriter converts cleanup.Class to rewrite.AddrClass by value.
func TestAddressClassesAgree(t *testing.T) {
	for _, c := range []cleanup.Class{cleanup.EnvelopeSender, cleanup.EnvelopeRecipient, cleanup.HeaderSender, cleanup.HeaderRecipient} {
		if got, want := rewrite.AddrClass(c).String(), c.String(); got != want {
			t.Errorf("class %d: rewrite says %q, cleanup %q", c, got, want)
		}
	}
}
