package aliases

import (
	"fmt"
	"strings"

	"mailhorn/internal/config"
)

// Kind is what a Target delivers to.
type Kind int

const (
	Mailbox Kind = iota // the local user itself: mailbox (or .forward) delivery
	Address             // an address to forward to (not local, or not expanded here)
	File                // append to a file (mbox, or Maildir when it ends in '/')
	Command             // pipe to a command
)

func (k Kind) String() string {
	switch k {
	case Mailbox:
		return "mailbox"
	case Address:
		return "address"
	case File:
		return "file"
	case Command:
		return "command"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// OriginKind says which kind of source a target was listed in; its String
// is the word allow_mail_to_commands and allow_mail_to_files use.
type OriginKind int

const (
	FromRecipient OriginKind = iota // the recipient itself, no alias involved
	FromAlias                       // an alias table (alias_maps)
	FromForward                     // a user's .forward file
	FromInclude                     // an :include: file
)

func (k OriginKind) String() string {
	switch k {
	case FromRecipient:
		return "recipient"
	case FromAlias:
		return "alias"
	case FromForward:
		return "forward"
	case FromInclude:
		return "include"
	}
	return fmt.Sprintf("OriginKind(%d)", int(k))
}

// Origin is where a target was listed. Delivery uses UID/GID to choose the
// rights for file and command targets (the owner of the :include: or
// .forward file, or of the alias table; -1 when unknown).
type Origin struct {
	Kind OriginKind
	Name string // alias table spec ("hash:/etc/aliases") or file path
	UID  int
	GID  int
}

// Target is one result of expansion.
type Target struct {
	Kind Kind
	// Value is the user name (Mailbox), the address in internal form
	// (Address), the path (File) or the command line without '|' (Command).
	Value string
	// Extension is the address extension of a Mailbox target, without the
	// delimiter ("foo" for user+foo).
	Extension string
	// Alias is the chain of alias names the target came through, outermost
	// first; empty for the recipient itself.
	Alias []string
	// Origin is the table or file that listed the target.
	Origin Origin
	// Owner is the address that should receive delivery problems for this
	// target (the owner-NAME alias, or its expansion with
	// expand_owner_alias); empty means the message's sender.
	Owner string
}

func (t Target) String() string {
	s := t.Kind.String() + " " + t.Value
	if t.Extension != "" {
		s += " ext=" + t.Extension
	}
	if len(t.Alias) > 0 {
		s += " via=" + strings.Join(t.Alias, ">")
	}
	s += " from=" + t.Origin.Kind.String()
	if t.Owner != "" {
		s += " owner=" + t.Owner
	}
	return s
}

// Allowed tells whether delivery to this target is permitted for where it
// came from: allow_mail_to_commands for commands, allow_mail_to_files for
// files (values alias, forward, include, as in Postfix). Addresses and
// mailboxes are always allowed. A command or file named by the recipient
// itself (no alias, forward or include) is never allowed.
func (t Target) Allowed(cfg *config.Config) bool {
	var param string
	switch t.Kind {
	case Command:
		param = "allow_mail_to_commands"
	case File:
		param = "allow_mail_to_files"
	default:
		return true
	}
	if t.Origin.Kind == FromRecipient {
		return false
	}
	for _, v := range cfg.List(param) {
		if strings.EqualFold(v, t.Origin.Kind.String()) {
			return true
		}
	}
	return false
}
