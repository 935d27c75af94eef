package pipe

import (
	"context"
	"fmt"
	"os/user"
	"strconv"
	"strings"
	"time"

	"mailhorn/internal/address"
	"mailhorn/internal/config"
	"mailhorn/internal/deliver"
	"mailhorn/internal/privsep"
	"mailhorn/internal/store"
)

// Agent is a pipe(8) service: it runs its command for each delivery
// request, with all the request's recipients.
type Agent struct {
	Service   string // master.cf service name, for relay= and texts
	Args      *Args
	Runner    privsep.Runner
	TimeLimit time.Duration // SERVICE_time_limit
	// Delimiters is recipient_delimiter, for ${user} and ${extension}.
	Delimiters  string
	HeaderLimit int64    // header_size_limit, for the D flag's loop check
	ExportEnv   []string // export_environment
	MailOwner   int      // mail_owner's uid: refused as user=, as pipe(8)
	// Lookup finds user=; nil: privsep.LookupAccount.
	Lookup func(name string) (privsep.Account, error)
	// LookupGroup finds the group of user=name:group; nil: os/user.
	LookupGroup func(name string) (int, error)
	Getenv      func(string) string // for export_environment; nil: os.Getenv
	Now         func() time.Time    // nil: time.Now
}

// New builds the agent of a master.cf pipe service from its arguments and
// main.cf (cfg with the service's -o overrides).
func New(cfg *config.Config, svc config.Service, runner privsep.Runner) (*Agent, error) {
	args, err := ParseArgs(svc.Args)
	if err != nil {
		return nil, err
	}
	a := &Agent{
		Service:     svc.Name,
		Args:        args,
		Runner:      runner,
		TimeLimit:   cfg.Duration(svc.Name + "_time_limit"),
		Delimiters:  cfg.Get("recipient_delimiter"),
		HeaderLimit: cfg.Size("header_size_limit"),
		ExportEnv:   cfg.List("export_environment"),
		MailOwner:   -1,
	}
	if a.TimeLimit == 0 {
		a.TimeLimit = cfg.Duration("command_time_limit")
	}
	if u, err := user.Lookup(cfg.Get("mail_owner")); err == nil {
		a.MailOwner, _ = strconv.Atoi(u.Uid)
	}
	return a, nil
}

// Deliver implements deliver.Agent.
func (a *Agent) Deliver(ctx context.Context, req *deliver.Request) []deliver.Result {
	all := func(st deliver.Status, dsn, format string, args ...any) []deliver.Result {
		return deliver.All(req, st, dsn, fmt.Sprintf(format, args...), a.Service)
	}
	f := a.Args.Flags
	if a.Args.Size > 0 && req.ContentSize > a.Args.Size {
		return all(deliver.Bounced, "5.2.3", "message size %d exceeds size limit %d of service %s", req.ContentSize, a.Args.Size, a.Service)
	}
	if (f.DeliveredTo || f.OriginalTo) && len(req.Recipients) > 1 {
		return all(deliver.Deferred, "4.3.5", "mail system configuration error: flags D and O need %s_destination_recipient_limit = 1", a.Service)
	}
	id, err := a.identity()
	if err != nil {
		return all(deliver.Deferred, "4.3.5", "mail system configuration error: service %s: %v", a.Service, err)
	}
	results := make([]deliver.Result, len(req.Recipients))
	var rcpts []deliver.Recipient
	var seen map[string]bool
	if f.DeliveredTo {
		qf, body, err := req.OpenContent()
		if err != nil {
			return all(deliver.Deferred, "4.3.0", "cannot read the queue file: %v", err)
		}
		seen, err = store.DeliveredTo(body, a.headerLimit())
		qf.Close()
		if err != nil {
			return all(deliver.Deferred, "4.3.0", "cannot read the queue file: %v", err)
		}
	}
	for i, r := range req.Recipients {
		if seen[strings.ToLower(r.Address)] {
			results[i] = deliver.Result{Index: r.Index, Status: deliver.Bounced, DSN: "5.4.6", Text: "mail forwarding loop for " + r.Address, Relay: a.Service}
			continue
		}
		rcpts = append(rcpts, r)
	}
	if len(rcpts) == 0 {
		return results
	}
	res := a.run(ctx, req, rcpts, id)
	for i, r := range req.Recipients {
		if results[i].Status == 0 {
			results[i] = deliver.Result{Index: r.Index, Status: res.Status, DSN: res.DSN, Text: res.Text, Relay: a.Service}
		}
	}
	return results
}

func (a *Agent) headerLimit() int64 {
	if a.HeaderLimit > 0 {
		return a.HeaderLimit
	}
	return 102400
}

// identity is user= (and :group), never root nor mail_owner.
func (a *Agent) identity() (privsep.Identity, error) {
	lookup := a.Lookup
	if lookup == nil {
		lookup = privsep.LookupAccount
	}
	acct, err := lookup(a.Args.User)
	if err != nil {
		return privsep.Identity{}, fmt.Errorf("user= %s: %w", a.Args.User, err)
	}
	if acct.UID == 0 {
		return privsep.Identity{}, fmt.Errorf("user= command-line attribute specifies root privileges")
	}
	if acct.UID == a.MailOwner {
		return privsep.Identity{}, fmt.Errorf("user= command-line attribute specifies mail system owner %s", a.Args.User)
	}
	id := privsep.Identity{User: a.Args.User, UID: acct.UID, GID: acct.GID, Home: acct.Home}
	if a.Args.Group != "" {
		lg := a.LookupGroup
		if lg == nil {
			lg = lookupGroup
		}
		gid, err := lg(a.Args.Group)
		if err != nil {
			return privsep.Identity{}, fmt.Errorf("user= %s:%s: %w", a.Args.User, a.Args.Group, err)
		}
		if gid == 0 {
			return privsep.Identity{}, fmt.Errorf("user= command-line attribute specifies privileged group %s", a.Args.Group)
		}
		// A group of our choosing: the parent runs the command with that
		// group alone, as pipe(8) does.
		id = privsep.Identity{UID: acct.UID, GID: gid, Home: acct.Home}
	}
	return id, nil
}

func lookupGroup(name string) (int, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(g.Gid)
}

func (a *Agent) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// run runs the command once for rcpts.
func (a *Agent) run(ctx context.Context, req *deliver.Request, rcpts []deliver.Recipient, id privsep.Identity) privsep.Result {
	f := a.Args.Flags
	argv := a.expandArgv(req, rcpts)
	var prefix strings.Builder
	sender := a.sender(req.Sender, false)
	if f.FromLine {
		prefix.WriteString("From " + sender + "  " + a.now().Format("Mon Jan _2 15:04:05 2006") + "\n")
	}
	if f.ReturnPath {
		prefix.WriteString("Return-Path: <" + sender + ">\n")
	}
	if f.OriginalTo {
		orig := rcpts[0].Original
		if orig == "" {
			orig = rcpts[0].Address
		}
		prefix.WriteString("X-Original-To: " + address.FromInternal(orig).String() + "\n")
	}
	if f.DeliveredTo {
		prefix.WriteString("Delivered-To: " + address.FromInternal(rcpts[0].Address).String() + "\n")
	}
	env := privsep.BaseEnv(a.ExportEnv, a.Getenv)
	qf, body, err := req.OpenContent()
	if err != nil {
		return privsep.Resultf(deliver.Deferred, "4.3.0", "cannot read the queue file: %v", err)
	}
	defer qf.Close()
	preq := &privsep.Request{
		Op: privsep.OpCommand, Source: privsep.SourcePipe, As: id,
		QueueID: req.QueueID, Recipient: rcpts[0].Address,
		Argv: argv, Env: env, Dir: a.Args.Directory, TimeLimit: a.TimeLimit,
		Copy: privsep.Copy{Prefix: []byte(prefix.String()), QuoteFrom: f.QuoteFrom, DotStuff: f.DotStuff, EOL: a.Args.EOL, BlankLine: f.Blank},
		Size: req.ContentSize, Content: body,
	}
	if err := preq.Check(); err != nil {
		return privsep.Resultf(deliver.Deferred, "4.3.5", "mail system configuration error: service %s: %v", a.Service, err)
	}
	res, err := a.Runner.Run(ctx, preq)
	if err != nil {
		return privsep.Resultf(deliver.Deferred, "4.3.0", "cannot run the command of service %s: %v", a.Service, err)
	}
	if res.Status == deliver.Sent {
		res.Text = "delivered via " + a.Service + " service"
	}
	return res
}

// sender is $sender: the null sender replaced by null_sender (not quoted
// when empty), the local part quoted with the q flag when quote is set.
func (a *Agent) sender(s string, quote bool) string {
	if s == "" {
		if quote && a.Args.NullSender != "" && a.Args.Flags.Quote {
			return a.quoteAddr(a.Args.NullSender)
		}
		return a.Args.NullSender
	}
	if quote && a.Args.Flags.Quote {
		return a.quoteAddr(s)
	}
	return s
}

func (a *Agent) quoteAddr(s string) string {
	local, domain, hasAt := address.SplitInternal(s)
	local = address.QuoteLocal(local)
	if hasAt {
		return local + "@" + domain
	}
	return local
}

// rcptAddr is $recipient or $original_recipient after the h, q and u
// flags.
func (a *Agent) rcptAddr(s string) string {
	f := a.Args.Flags
	local, domain, hasAt := address.SplitInternal(s)
	if f.FoldUser {
		local = strings.ToLower(local)
	}
	if f.FoldHost {
		domain = strings.ToLower(domain)
	}
	if f.Quote {
		local = address.QuoteLocal(local)
	}
	if hasAt {
		return local + "@" + domain
	}
	return local
}

// expandArgv expands the macros: an argument with a per-recipient macro
// becomes one argument per recipient.
func (a *Agent) expandArgv(req *deliver.Request, rcpts []deliver.Recipient) []string {
	f := a.Args.Flags
	nexthop := req.Nexthop
	if f.FoldHost {
		nexthop = strings.ToLower(nexthop)
	}
	common := map[string]string{
		"sender":   a.sender(req.Sender, true),
		"nexthop":  nexthop,
		"size":     strconv.FormatInt(req.ContentSize, 10),
		"queue_id": req.QueueID,
	}
	var out []string
	for _, arg := range a.Args.Argv {
		if !perRecipient(arg) {
			out = append(out, expand(arg, common))
			continue
		}
		for _, r := range rcpts {
			m := make(map[string]string, len(common)+6)
			for k, v := range common {
				m[k] = v
			}
			local, domain, _ := address.SplitInternal(r.Address)
			if f.FoldUser {
				local = strings.ToLower(local)
			}
			if f.FoldHost {
				domain = strings.ToLower(domain)
			}
			user, ext := local, ""
			if a.Delimiters != "" {
				if i := strings.IndexAny(local, a.Delimiters); i > 0 {
					user, ext = local[:i], local[i+1:]
				}
			}
			orig := r.Original
			if orig == "" {
				orig = r.Address
			}
			m["recipient"] = a.rcptAddr(r.Address)
			m["original_recipient"] = a.rcptAddr(orig)
			m["user"], m["extension"], m["mailbox"], m["domain"] = user, ext, local, domain
			out = append(out, expand(arg, m))
		}
	}
	return out
}

// expand substitutes macros (unknown or unset ones are empty: ParseArgs
// already refused unknown names).
func expand(arg string, m map[string]string) string {
	var b strings.Builder
	scan(arg, func(s string) { b.WriteString(s) }, func(n string) { b.WriteString(m[n]) })
	return b.String()
}
