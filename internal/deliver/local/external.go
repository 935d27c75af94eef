package local

import (
	"context"
	"path/filepath"
	"strings"

	"mailhorn/internal/aliases"
	"mailhorn/internal/deliver"
	"mailhorn/internal/privsep"
)

// external is a planned |command or /file delivery.
type external struct {
	key string // kind, value and uid: the same target is delivered once
	req *privsep.Request
}

// planExternal plans a |command or /file target: refused (5.7.1) when
// allow_mail_to_commands / allow_mail_to_files does not allow where it
// came from, else run with the rights local(8) chooses — the user whose
// .forward listed it, else the owner of the alias table or :include:
// file — and default_privs instead of root.
func (a *Agent) planExternal(ctx context.Context, rc *rcpt, p *plan, t aliases.Target, fwd *User) {
	what := "file"
	if t.Kind == aliases.Command {
		what = "command"
	}
	if a.Config == nil || !t.Allowed(a.Config) {
		p.add(deliver.Resultf(deliver.Bounced, "5.7.1", "mail to %s is restricted", what))
		return
	}
	id, ok := a.identity(ctx, p, t, fwd)
	if !ok {
		return
	}
	req := &privsep.Request{As: id, Source: source(t, fwd)}
	prefix := append([]byte(fromLine(rc.req.Sender, a.now())), headers(rc.req, rc.r)...)
	switch {
	case t.Kind == aliases.Command:
		req.Op = privsep.OpCommand
		req.Shell = t.Value
		req.ShellPath = a.CommandShell
		req.Env = a.commandEnv(rc, id)
		req.Dir = id.Home
		req.TimeLimit = a.CommandTimeLimit
		// local(8): From_ line and headers, no quoting, no empty line.
		req.Copy = privsep.Copy{Prefix: prefix}
	case strings.HasSuffix(t.Value, "/"):
		req.Op = privsep.OpMaildir
		req.Path = filepath.Clean(t.Value) + "/"
		req.Hostname = a.Hostname
		req.SizeLimit = a.SizeLimit
		req.Copy = privsep.Copy{Prefix: headers(rc.req, rc.r)}
	default:
		req.Op = privsep.OpMbox
		req.Path = t.Value
		req.Lock = a.Lock
		req.SizeLimit = a.SizeLimit
		req.Copy = privsep.Copy{Prefix: prefix, QuoteFrom: true, BlankLine: true}
	}
	if err := req.Check(); err != nil {
		p.add(deliver.Resultf(deliver.Bounced, "5.3.5", "%s %s: %v", what, t.Value, err))
		return
	}
	key := string(req.Op) + "\x00" + t.Value + "\x00" + string(rune(id.UID))
	for _, x := range p.externals {
		if x.key == key {
			return
		}
	}
	p.externals = append(p.externals, external{key: key, req: req})
}

func source(t aliases.Target, fwd *User) privsep.Source {
	switch {
	case fwd != nil || t.Origin.Kind == aliases.FromForward:
		return privsep.SourceForward
	case t.Origin.Kind == aliases.FromInclude:
		return privsep.SourceInclude
	}
	return privsep.SourceAlias
}

// identity is whom a file or command target runs as: the .forward's user,
// else the owner of the table or file that listed it; root is replaced by
// default_privs. A failure is added to the plan (and ok is false).
func (a *Agent) identity(ctx context.Context, p *plan, t aliases.Target, fwd *User) (privsep.Identity, bool) {
	if fwd != nil && fwd.UID != 0 {
		return privsep.Identity{User: fwd.Name, UID: fwd.UID, GID: fwd.GID, Home: fwd.Home, Shell: fwd.Shell}, true
	}
	if fwd == nil && t.Origin.UID > 0 {
		id := privsep.Identity{UID: t.Origin.UID, GID: t.Origin.GID}
		if l, ok := a.Users.(interface {
			LookupID(ctx context.Context, uid int) (User, bool, error)
		}); ok {
			if u, found, err := l.LookupID(ctx, t.Origin.UID); err == nil && found {
				id = privsep.Identity{User: u.Name, UID: u.UID, GID: u.GID, Home: u.Home, Shell: u.Shell}
			}
		}
		if id.GID <= 0 {
			id.GID = id.UID
		}
		return id, true
	}
	name := a.DefaultPrivs
	if name == "" {
		name = "nobody"
	}
	u, found, err := a.Users.Lookup(ctx, name)
	switch {
	case err != nil:
		a.warn("error looking up passwd info for default_privs %s: %v", name, err)
		p.add(deliver.Resultf(deliver.Deferred, "4.0.0", "user lookup error"))
		return privsep.Identity{}, false
	case !found || u.UID == 0:
		p.add(deliver.Resultf(deliver.Deferred, "4.3.5", "mail system configuration error: default_privs %q is not an unprivileged account", name))
		return privsep.Identity{}, false
	}
	return privsep.Identity{User: u.Name, UID: u.UID, GID: u.GID, Home: u.Home, Shell: u.Shell}, true
}

// commandEnv is the environment of a command, as local(8) sets it: PATH,
// the export_environment variables, the identity's HOME, USER, LOGNAME
// and SHELL, and the message's SENDER, RECIPIENT, ORIGINAL_RECIPIENT,
// LOCAL, EXTENSION, DOMAIN — those filtered through
// command_expansion_filter.
func (a *Agent) commandEnv(rc *rcpt, id privsep.Identity) []string {
	env := privsep.BaseEnv(a.ExportEnv, a.Getenv)
	set := func(name, value string) {
		if value != "" {
			env = append(env, name+"="+value)
		}
	}
	set("HOME", id.Home)
	set("USER", id.User)
	set("LOGNAME", id.User)
	set("SHELL", id.Shell)
	f := func(v string) string { return filtered(v, a.CommandFilter) }
	sender := rc.req.Sender
	set("SENDER", f(sender))
	set("RECIPIENT", f(rc.r.Address))
	orig := rc.r.Original
	if orig == "" {
		orig = rc.r.Address
	}
	set("ORIGINAL_RECIPIENT", f(orig))
	set("LOCAL", f(rc.local))
	if ext := a.extension(rc.local); ext != "" {
		set("EXTENSION", f(ext))
	}
	set("DOMAIN", f(rc.domain))
	return env
}

// extension is the address extension of a local part (after the first
// recipient_delimiter character, as the aliases Expander splits it).
func (a *Agent) extension(local string) string {
	if a.Expander == nil || a.Expander.Delimiters == "" {
		return ""
	}
	if i := strings.IndexAny(local, a.Expander.Delimiters); i > 0 {
		return local[i+1:]
	}
	return ""
}

// planMailboxCommand plans mailbox_command (procmail, maildrop, ...) in
// place of the mailbox, as local(8) does after aliases and .forward: run
// as the user, with $DOMAIN, $EXTENSION, $HOME, $LOCAL, $LOGNAME,
// $RECIPIENT, $SENDER, $SHELL and $USER expanded (through
// command_expansion_filter) and the command environment.
func (a *Agent) planMailboxCommand(rc *rcpt, p *plan, u User, ext string) {
	at := attrs{}
	for k, v := range a.attrs(rc, u, ext) {
		at[strings.ToUpper(k)] = v
	}
	at["LOGNAME"] = u.Name
	at["SENDER"] = rc.req.Sender
	e, err := at.expand(a.MailboxCommand, a.CommandFilter)
	if err != nil {
		p.add(deliver.Resultf(deliver.Deferred, "4.3.5", "mail system configuration error: mailbox_command %q: %v", a.MailboxCommand, err))
		return
	}
	id := privsep.Identity{User: u.Name, UID: u.UID, GID: u.GID, Home: u.Home, Shell: u.Shell}
	req := &privsep.Request{
		Op: privsep.OpCommand, Source: privsep.SourceForward, As: id,
		Shell: e.text, ShellPath: a.CommandShell, Env: a.commandEnv(rc, id), Dir: id.Home,
		TimeLimit: a.CommandTimeLimit,
		// local(8): From_ line and headers, no quoting, no empty line.
		Copy: privsep.Copy{Prefix: append([]byte(fromLine(rc.req.Sender, a.now())), headers(rc.req, rc.r)...)},
	}
	if err := req.Check(); err != nil {
		p.add(deliver.Resultf(deliver.Deferred, "4.3.5", "mail system configuration error: mailbox_command: %v", err))
		return
	}
	p.externals = append(p.externals, external{key: "mailbox_command\x00" + u.Name, req: req})
}
