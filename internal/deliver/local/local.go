package local

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"time"

	"mailhorn/internal/address"
	"mailhorn/internal/aliases"
	"mailhorn/internal/cleanup"
	"mailhorn/internal/config"
	"mailhorn/internal/deliver"
	"mailhorn/internal/maillog"
	"mailhorn/internal/maps"
	"mailhorn/internal/privsep"
	"mailhorn/internal/store"
)

// Submitter queues a new message: forwarded mail goes back through cleanup
// as a message of its own. *cleanup.Cleanup is one.
type Submitter interface {
	Submit(ctx context.Context, m *cleanup.Message, content io.Reader) (string, error)
}

// Agent is the local delivery agent. Build it with New, or fill the fields
// (tests do).
type Agent struct {
	// Config answers allow_mail_to_commands and allow_mail_to_files
	// (aliases.Target.Allowed).
	Config    *config.Config
	Expander  *aliases.Expander // alias_maps; its zero value has no aliases
	Users     Users             // the passwd database
	Writer    *store.Writer     // Maildir deliveries of the default runner
	Submitter Submitter         // forwarded mail
	// Runner writes mailboxes and files and runs commands with the right
	// identity: the privileged parent's client, or nil for a
	// privsep.InProcess runner (deliveries as this process's own uid).
	Runner privsep.Runner
	// Notify, when set, is told of each Maildir delivered into (the
	// message store wakes the IMAP sessions that have it open); the
	// Writer's own OnDeliver does not see deliveries made by a helper
	// process as the user.
	Notify func(maildir string)

	HomeMailbox string // home_mailbox
	SpoolDir    string // mail_spool_directory
	SizeLimit   int64  // mailbox_size_limit; 0: none
	HeaderLimit int64  // header_size_limit, for the Delivered-To scan

	ForwardPath   []string // forward_path, unexpanded
	ForwardFilter string   // forward_expansion_filter
	LuserRelay    string   // luser_relay, unexpanded
	// MailboxCommand (mailbox_command) replaces mailbox delivery.
	// MailboxTransport and FallbackTransport are not supported yet: a
	// recipient that needs them is deferred.
	MailboxCommand    string
	MailboxTransport  string
	FallbackTransport string

	StrictOwnership bool // strict_mailbox_ownership
	Lock            privsep.Lock

	// Files and commands.
	DefaultPrivs     string              // default_privs: the account for root-owned aliases
	CommandTimeLimit time.Duration       // command_time_limit
	CommandShell     string              // local_command_shell; "": /bin/sh for command lines that need a shell
	CommandFilter    string              // command_expansion_filter, for the environment
	ExportEnv        []string            // export_environment: NAME or NAME=value
	Getenv           func(string) string // for export_environment; nil: os.Getenv
	Hostname         string              // myhostname, for the Received: header of forwarded mail
	MailName         string              // mail_name

	// Biff, when set, is told of each mbox delivery (user, offset): the
	// comsat notification.
	Biff func(user string, offset int64)

	Log *maillog.Service // warnings; nil: none
	Now func() time.Time // nil: time.Now
}

const relay = "local"

func (a *Agent) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Agent) warn(format string, args ...any) {
	if a.Log != nil {
		a.Log.Warning(format, args...)
	}
}

// Deliver implements deliver.Agent.
func (a *Agent) Deliver(ctx context.Context, req *deliver.Request) []deliver.Result {
	return deliver.EachRecipient(ctx, req, relay, a.HeaderLimit, func(r deliver.Recipient) deliver.Result {
		return a.recipient(ctx, req, r)
	})
}

// rcpt is one recipient being delivered: what the plan needs to know.
type rcpt struct {
	req    *deliver.Request
	r      deliver.Recipient
	local  string // local part, case folded
	domain string
}

// recipient delivers to one recipient: plan every target first (alias
// expansion, .forward files, policy), then, when nothing in the plan has
// to wait, deliver to the mailboxes and forward to the addresses.
func (a *Agent) recipient(ctx context.Context, req *deliver.Request, r deliver.Recipient) deliver.Result {
	local, domain, _ := address.SplitInternal(r.Address)
	rc := &rcpt{req: req, r: r, local: maps.FoldKey(local), domain: domain}
	if rc.local == "" {
		return deliver.Resultf(deliver.Bounced, "5.1.3", "null username in %q", r.Address)
	}
	p := &plan{}
	a.planRecipient(ctx, rc, p)
	if d := p.firstFailure(deliver.Deferred); d != nil {
		// Nothing is delivered until every target can be: a retry would
		// otherwise deliver the others again.
		return *d
	}
	return a.execute(ctx, rc, p)
}

// planRecipient expands the recipient through the aliases into p.
func (a *Agent) planRecipient(ctx context.Context, rc *rcpt, p *plan) {
	targets, err := a.expander().Expand(ctx, rc.local)
	if err != nil {
		p.add(expandFailure(err))
		return
	}
	for _, t := range targets {
		a.planTarget(ctx, rc, p, t, nil)
	}
}

// expandFailure turns an alias or .forward expansion error into a result.
func expandFailure(err error) deliver.Result {
	var ae *aliases.Error
	if errors.As(err, &ae) {
		return deliver.Resultf(deliver.StatusOf(ae.Status), ae.Status, "%s", ae.Error())
	}
	return deliver.Resultf(deliver.Deferred, "4.3.0", "alias expansion: %v", err)
}

// planTarget adds one expansion result. fwd is the user whose .forward
// listed the target, nil for alias results.
func (a *Agent) planTarget(ctx context.Context, rc *rcpt, p *plan, t aliases.Target, fwd *User) {
	forwardOf := ""
	if fwd != nil {
		forwardOf = maps.FoldKey(fwd.Name)
	}
	switch t.Kind {
	case aliases.Address:
		p.forward(t.Value, a.forwardSender(rc, t))
	case aliases.Mailbox:
		switch {
		case forwardOf != "" && t.Value == forwardOf:
			// The user in her own .forward (or \user): the mailbox.
			a.planMailbox(ctx, rc, p, t.Value, t.Extension, false)
		case forwardOf != "", t.Origin.Kind == aliases.FromInclude,
			t.Owner != "" && !strings.EqualFold(t.Owner, t.Value):
			// Like local(8): another local user named in a .forward or
			// :include: file, or in an alias with an owner-, gets a new
			// message of her own, so that her delivery has its own queue
			// record and the owner gets the bounces.
			p.forward(a.qualify(rc, t), a.forwardSender(rc, t))
		default:
			a.planMailbox(ctx, rc, p, t.Value, t.Extension, true)
		}
	case aliases.File, aliases.Command:
		a.planExternal(ctx, rc, p, t, fwd)
	}
}

// qualify gives a local name its domain for resubmission: the recipient's,
// which the resolver already knows is local.
func (a *Agent) qualify(rc *rcpt, t aliases.Target) string {
	name := t.Value
	if t.Extension != "" && a.Expander != nil && a.Expander.Delimiters != "" {
		name += a.Expander.Delimiters[:1] + t.Extension
	}
	if rc.domain == "" {
		return name
	}
	return name + "@" + rc.domain
}

// forwardSender is the envelope sender of forwarded mail: the owner- alias
// when the expansion says so, else the original sender.
func (a *Agent) forwardSender(rc *rcpt, t aliases.Target) string {
	if t.Owner != "" {
		return t.Owner
	}
	return rc.req.Sender
}

// planMailbox plans delivery to a local user: her .forward when dotforward
// is set and she has one, else her mailbox.
func (a *Agent) planMailbox(ctx context.Context, rc *rcpt, p *plan, name, ext string, dotforward bool) {
	if a.MailboxTransport != "" {
		p.add(deliver.Resultf(deliver.Deferred, "4.3.5", "mail system configuration error: mailbox_transport is not supported by the local agent yet"))
		return
	}
	u, found, err := a.Users.Lookup(ctx, name)
	if err != nil {
		a.warn("error looking up passwd info for %s: %v", name, err)
		p.add(deliver.Resultf(deliver.Deferred, "4.0.0", "user lookup error"))
		return
	}
	if !found {
		a.planUnknown(rc, p, name, ext)
		return
	}
	if _, err := os.Stat(u.Home); err != nil && (a.HomeMailbox != "" || dotforward) {
		p.add(deliver.Resultf(deliver.Deferred, "4.3.0", "cannot access home directory %s: %v", u.Home, err))
		return
	}
	if name == "root" && rc.local == "root" && !p.warnedRoot {
		p.warnedRoot = true
		a.warn("mail for root has no alias: delivering to root's mailbox; add \"root: someone\" to the aliases")
	}
	if dotforward {
		content, path, ok, err := a.readForward(ctx, rc, u, ext)
		if err != nil {
			p.add(deliver.Resultf(deliver.Deferred, "4.3.0", "cannot read .forward file: %v", err))
			return
		}
		if ok {
			targets, err := a.expander().ExpandForward(ctx, u.Name, u.Home, content, path, u.UID, u.GID)
			if err != nil {
				p.add(expandFailure(err))
				return
			}
			if len(targets) > 0 {
				for _, t := range targets {
					a.planTarget(ctx, rc, p, t, &u)
				}
				return
			}
		}
	}
	if a.MailboxCommand != "" {
		a.planMailboxCommand(rc, p, u, ext)
		return
	}
	p.mailbox(u)
}

func (a *Agent) expander() *aliases.Expander {
	if a.Expander != nil {
		return a.Expander
	}
	return &aliases.Expander{}
}

// planUnknown handles a name with no alias and no account, as local(8)'s
// unknown-user step does.
func (a *Agent) planUnknown(rc *rcpt, p *plan, name, ext string) {
	if a.FallbackTransport != "" {
		p.add(deliver.Resultf(deliver.Deferred, "4.3.5", "mail system configuration error: fallback_transport is not supported by the local agent yet"))
		return
	}
	if a.LuserRelay != "" {
		e, err := a.attrs(rc, User{Name: name}, ext).expand(a.LuserRelay, "")
		if err != nil || strings.TrimSpace(e.text) == "" {
			p.add(deliver.Resultf(deliver.Deferred, "4.3.5", "mail system configuration error: luser_relay %q: %v", a.LuserRelay, err))
			return
		}
		p.forward(strings.TrimSpace(e.text), rc.req.Sender)
		return
	}
	if strings.EqualFold(name, "mailer-daemon") || strings.EqualFold(name, "postmaster") {
		a.warn("required alias not found: %s", name)
		p.add(deliver.Resultf(deliver.Sent, "2.0.0", "discarded"))
		return
	}
	p.add(deliver.Resultf(deliver.Bounced, "5.1.1", "unknown user: %q", name))
}

// headers are the lines local(8) prepends in a mailbox: Return-Path,
// X-Original-To (the address the client gave) and Delivered-To (the
// recipient as it reached this agent, fixed for the whole delivery as with
// Postfix's frozen_delivered_to = yes).
func headers(req *deliver.Request, r deliver.Recipient) []byte {
	var b strings.Builder
	b.WriteString("Return-Path: <")
	if req.Sender != "" {
		b.WriteString(address.FromInternal(req.Sender).String())
	}
	b.WriteString(">\n")
	orig := r.Original
	if orig == "" {
		orig = r.Address
	}
	b.WriteString("X-Original-To: " + address.FromInternal(orig).String() + "\n")
	b.WriteString("Delivered-To: " + address.FromInternal(r.Address).String() + "\n")
	return []byte(b.String())
}
