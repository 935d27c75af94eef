package master

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"

	"mailhorn/internal/aliases"
	"mailhorn/internal/anvil"
	"mailhorn/internal/auth"
	"mailhorn/internal/cleanup"
	"mailhorn/internal/config"
	"mailhorn/internal/deliver"
	"mailhorn/internal/deliver/discard"
	"mailhorn/internal/deliver/local"
	"mailhorn/internal/deliver/pipe"
	"mailhorn/internal/deliver/reject"
	"mailhorn/internal/deliver/smtp"
	"mailhorn/internal/deliver/virtual"
	"mailhorn/internal/imapd"
	"mailhorn/internal/maillog"
	"mailhorn/internal/maps"
	"mailhorn/internal/pop3d"
	"mailhorn/internal/privsep"
	"mailhorn/internal/queue"
	"mailhorn/internal/restrict"
	"mailhorn/internal/rewrite"
	"mailhorn/internal/smtpd"
	"mailhorn/internal/store"
)

// generation is everything built from one reading of main.cf and
// master.cf. A reload builds a new generation for new connections and
// deliveries; the old one serves its open sessions to their end and is
// then closed, so a reload drops no connection.
type generation struct {
	cfg      *config.Config
	services []config.Service
	rw       *rewrite.Rewriter
	cleanup  *cleanup.Cleanup
	agents   map[string]deliver.Agent // by master.cf service name
	servers  map[string]connServer    // by master.cf service name: smtpd, lmtpd, imapd, pop3d
	auth     *auth.Service            // nil until a service enables AUTH
	closers  []io.Closer

	sessions sync.WaitGroup // SMTP sessions served by this generation
}

// shared is what outlives generations: the queue, the queue manager's
// notifier, the logs, the Maildir writer.
type shared struct {
	queue    *queue.Queue
	notify   cleanup.Notifier
	mailLog  *maillog.Logger
	log      *slog.Logger
	maildirs *store.Writer
	runner   privsep.Runner // deliveries as other users (privilege separation)
	// store serves mailboxes to imapd and pop3d and is told of every
	// delivery, so that IDLE sessions see new mail at once.
	store     *store.Store
	pop3Locks *pop3d.Locks // one POP3 session per mailbox, across services and reloads
	// anvil counts client events (rates, authentication failures) across
	// generations, so that a reload does not reset a client's counts.
	anvil *anvil.Anvil
	// syslogName is main.cf's syslog_name, the mail log's own.
	syslogName string
}

func buildGeneration(ctx context.Context, cfg *config.Config, services []config.Service, sh *shared) (*generation, error) {
	g := &generation{cfg: cfg, services: services, agents: map[string]deliver.Agent{}, servers: map[string]connServer{}}
	ok := false
	defer func() {
		if !ok {
			g.close()
		}
	}()
	rw, err := rewrite.New(ctx, cfg, rewrite.Options{})
	if err != nil {
		return nil, err
	}
	g.rw = rw
	g.closers = append(g.closers, rw)
	g.cleanup = cleanup.New(sh.queue, cleanupRewriter{rw}, sh.notify, sh.mailLog.Service("cleanup"), cleanup.OptionsFromConfig(cfg))

	for _, svc := range services {
		switch {
		case svc.Type == "inet" && svc.Command == "smtpd":
			scfg, err := svc.Config(cfg)
			if err != nil {
				return nil, err
			}
			srv, err := g.smtpServer(scfg, svc, sh)
			if err != nil {
				return nil, fmt.Errorf("%s, line %d: service %s: %w", svc.File, svc.Line, svc.Name, err)
			}
			g.servers[svc.Name] = srv
		case svc.Type == "inet" && (svc.Command == "imapd" || svc.Command == "pop3d"):
			scfg, err := svc.Config(cfg)
			if err != nil {
				return nil, err
			}
			var srv connServer
			if svc.Command == "imapd" {
				srv, err = g.imapServer(scfg, svc, sh)
			} else {
				srv, err = g.pop3Server(scfg, svc, sh)
			}
			if err != nil {
				return nil, fmt.Errorf("%s, line %d: service %s: %w", svc.File, svc.Line, svc.Name, err)
			}
			g.servers[svc.Name] = srv
		case (svc.Type == "inet" || svc.Type == "unix") && svc.Command == "lmtpd":
			scfg, err := svc.Config(cfg)
			if err != nil {
				return nil, err
			}
			srv, err := g.lmtpServer(scfg, svc, sh)
			if err != nil {
				return nil, fmt.Errorf("%s, line %d: service %s: %w", svc.File, svc.Line, svc.Name, err)
			}
			g.servers[svc.Name] = srv
		case svc.Type == "unix":
			scfg, err := svc.Config(cfg)
			if err != nil {
				return nil, err
			}
			a, err := g.agent(scfg, svc, sh)
			if err != nil {
				return nil, fmt.Errorf("%s, line %d: service %s: %w", svc.File, svc.Line, svc.Name, err)
			}
			if a != nil {
				g.agents[svc.Name] = a
			}
		}
	}
	ok = true
	return g, nil
}

// agent builds the delivery agent a master.cf service runs, or nil for
// services that are not delivery agents or not available yet.
func (g *generation) agent(cfg *config.Config, svc config.Service, sh *shared) (deliver.Agent, error) {
	switch svc.Command {
	case "discard":
		return discard.Agent{}, nil
	case "error":
		return reject.Agent{}, nil
	case "retry":
		return reject.Agent{Retry: true}, nil
	case "virtual":
		return g.virtualAgent(cfg, sh)
	case "local":
		return g.localAgent(cfg, svc, sh)
	case "pipe":
		return pipe.New(cfg, svc, sh.runner)
	case "smtp", "lmtp":
		// Its TLS and warning lines carry its own name, as Postfix's smtp[pid].
		log := slog.New(sh.mailLog.Service(serviceLogName(svc)).Handler())
		a, err := smtp.NewFromConfig(cfg, svc.Command == "lmtp", log)
		if err != nil {
			return nil, err
		}
		g.closers = append(g.closers, a)
		return a, nil
	}
	return nil, nil
}

func (g *generation) localAgent(cfg *config.Config, svc config.Service, sh *shared) (deliver.Agent, error) {
	tables, err := aliases.OpenTables(cfg.List("alias_maps"))
	if err != nil {
		return nil, fmt.Errorf("alias_maps: %w", err)
	}
	g.closers = append(g.closers, closerFunc(func() { aliases.CloseTables(tables) }))
	x := aliases.New(cfg, tables)
	rw := g.rw
	x.IsLocal = func(domain string) bool {
		ok, err := rw.IsLocal(context.Background(), domain)
		return ok && err == nil
	}
	a := local.New(cfg, x, local.SystemUsers{}, sh.maildirs, g.cleanup, sh.mailLog.Service(serviceLogName(svc)))
	a.Runner = sh.runner
	a.Notify = sh.store.Notify
	return a, nil
}

func (g *generation) virtualAgent(cfg *config.Config, sh *shared) (deliver.Agent, error) {
	a := &virtual.Agent{
		Base:        cfg.Get("virtual_mailbox_base"),
		MinUID:      cfg.Int("virtual_minimum_uid"),
		SizeLimit:   cfg.Size("virtual_mailbox_limit"),
		HeaderLimit: cfg.Size("header_size_limit"),
		Writer:      sh.maildirs,
	}
	if q, err := g.quotaCheck(cfg, sh); err != nil {
		return nil, err
	} else if q != nil {
		a.Quota = q
	}
	for _, t := range []struct {
		param string
		dst   *maps.Table
	}{{"virtual_mailbox_maps", &a.Mailboxes}, {"virtual_uid_maps", &a.UIDs}, {"virtual_gid_maps", &a.GIDs}} {
		specs := cfg.List(t.param)
		if len(specs) == 0 {
			continue
		}
		l, err := maps.OpenList(specs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.param, err)
		}
		g.closers = append(g.closers, l)
		*t.dst = l
	}
	return a, nil
}

func (g *generation) smtpServer(cfg *config.Config, svc config.Service, sh *shared) (*smtpd.Server, error) {
	o := smtpd.DefaultOptions()
	o.Hostname = cfg.Get("myhostname")
	o.MailName = cfg.Get("mail_name")
	o.Banner = cfg.Get("smtpd_banner")
	o.MessageSizeLimit = cfg.Size("message_size_limit")
	o.RecipientLimit = cfg.Int("smtpd_recipient_limit")
	o.RcptOvershootLimit = cfg.Int("smtpd_recipient_overshoot_limit")
	o.LineLengthLimit = cfg.Int("line_length_limit")
	o.Timeout = cfg.Duration("smtpd_timeout")
	o.HardErrorLimit = cfg.Int("smtpd_hard_error_limit")
	o.SoftErrorLimit = cfg.Int("smtpd_soft_error_limit")
	o.ErrorSleep = cfg.Duration("smtpd_error_sleep_time")
	o.JunkCommandLimit = cfg.Int("smtpd_junk_command_limit")
	o.ConnLimit = cfg.Int("smtpd_client_connection_count_limit")
	o.DisableVRFY = cfg.Bool("disable_vrfy_command")
	o.SMTPUTF8 = cfg.Bool("smtputf8_enable")
	o.HeloRequired = cfg.Bool("smtpd_helo_required")
	switch v := cfg.Get("smtpd_forbid_bare_newline"); v {
	case "normalize", "yes":
		o.BareNewline = smtpd.BareNewlineNormalize
	case "reject":
		o.BareNewline = smtpd.BareNewlineReject
	case "no":
		o.BareNewline = smtpd.BareNewlineAllow
	default:
		return nil, fmt.Errorf("smtpd_forbid_bare_newline = %s: want normalize, yes, reject or no", v)
	}
	tc, err := serverTLS(cfg, "smtpd")
	if err != nil {
		return nil, err
	}
	// As Postfix: STARTTLS is offered at level may or encrypt (an empty
	// level falls back to smtpd_use_tls / smtpd_enforce_tls), and in
	// wrapper mode TLS is what the port speaks whatever the level.
	level := cfg.Get("smtpd_tls_security_level")
	if level == "" {
		switch {
		case cfg.Bool("smtpd_enforce_tls"):
			level = "encrypt"
		case cfg.Bool("smtpd_use_tls"):
			level = "may"
		}
	}
	if tc != nil && (level == "may" || level == "encrypt" || cfg.Bool("smtpd_tls_wrappermode")) {
		o.TLS = tc
		o.RequireTLS = level == "encrypt"
	} else if level == "encrypt" {
		return nil, errors.New("smtpd_tls_security_level = encrypt needs smtpd_tls_cert_file")
	}
	exempt, err := maps.ParseNetList(cfg.List("smtpd_client_event_limit_exceptions"), nil)
	if err != nil {
		return nil, fmt.Errorf("smtpd_client_event_limit_exceptions: %w", err)
	}
	g.closers = append(g.closers, exempt)
	o.ConnLimitExempt = func(a netip.Addr) bool {
		ok, err := exempt.Match(context.Background(), a)
		return ok && err == nil
	}
	bareExempt, err := maps.ParseNetList(cfg.List("smtpd_forbid_bare_newline_exclusions"), nil)
	if err != nil {
		return nil, fmt.Errorf("smtpd_forbid_bare_newline_exclusions: %w", err)
	}
	g.closers = append(g.closers, bareExempt)
	o.BareNewlineExempt = func(a netip.Addr) bool {
		ok, err := bareExempt.Match(context.Background(), a)
		return ok && err == nil
	}
	o.LookupName = func(ctx context.Context, a netip.Addr) string {
		return smtpd.ResolveName(ctx, net.DefaultResolver, a)
	}
	if err := g.smtpAuthOptions(cfg, &o, sh); err != nil {
		return nil, err
	}
	mailLog := serviceLog(cfg, svc, sh)
	pol, err := restrict.New(cfg, restrict.Deps{
		Rewriter: g.rw,
		Anvil:    sh.anvil,
		MailLog:  mailLog,
		Log:      sh.log,
		Resolver: smtp.NewResolver(cfg.Get("mailhorn_dns_resolver")),
		Service:  svc.Name,
	})
	if err != nil {
		return nil, err
	}
	g.closers = append(g.closers, pol)
	return &smtpd.Server{
		Opts:      o,
		Policy:    pol,
		Submitter: g.cleanup,
		MailLog:   mailLog,
		Log:       sh.log,
	}, nil
}

// smtpAuthOptions fills the TLS protocol range and SMTP AUTH options of a
// service from its configuration (main.cf with the master.cf overrides).
func (g *generation) smtpAuthOptions(cfg *config.Config, o *smtpd.Options, sh *shared) error {
	o.WrapperMode = cfg.Bool("smtpd_tls_wrappermode")
	if o.TLS != nil {
		p := "smtpd_tls_protocols"
		if o.RequireTLS {
			p = "smtpd_tls_mandatory_protocols"
		}
		minV, maxV, raised, err := smtpd.TLSProtocols(cfg.Get(p))
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if raised && cfg.IsSet(p) {
			sh.log.Warn(p + " allows protocols below TLSv1.2; mailhorn uses TLSv1.2 and later")
		}
		o.TLS.MinVersion, o.TLS.MaxVersion = minV, maxV
	}
	if cfg.Bool("smtpd_sasl_auth_enable") {
		a, err := g.authService(sh)
		if err != nil {
			return err
		}
		o.Auth = a
	}
	o.AuthTLSOnly = cfg.Bool("smtpd_tls_auth_only")
	o.AuthenticatedHeader = cfg.Bool("smtpd_sasl_authenticated_header")
	o.BrokenAuthClients = cfg.Bool("broken_sasl_auth_clients")
	o.AuthResponseLimit = cfg.Int("smtpd_sasl_response_limit")
	var err error
	if o.AuthSecurity, err = smtpd.ParseSASLSecurity(cfg.Get("smtpd_sasl_security_options")); err != nil {
		return fmt.Errorf("smtpd_sasl_security_options: %w", err)
	}
	if o.AuthTLSSecurity, err = smtpd.ParseSASLSecurity(cfg.Get("smtpd_sasl_tls_security_options")); err != nil {
		return fmt.Errorf("smtpd_sasl_tls_security_options: %w", err)
	}
	exempt, err := maps.ParseNetList(cfg.List("smtpd_sasl_exceptions_networks"), nil)
	if err != nil {
		return fmt.Errorf("smtpd_sasl_exceptions_networks: %w", err)
	}
	g.closers = append(g.closers, exempt)
	o.AuthExempt = func(a netip.Addr) bool {
		ok, err := exempt.Match(context.Background(), a)
		return ok && err == nil
	}
	return nil
}

// authService is the generation's one authentication service, shared by
// every SMTP service that enables AUTH (and later imapd and pop3d). It is
// built from main.cf alone on first use, so that a system without AUTH
// needs no user database.
func (g *generation) authService(sh *shared) (*auth.Service, error) {
	if g.auth != nil {
		return g.auth, nil
	}
	// No Log: the services log each failure in the mail log themselves.
	a, err := auth.New(g.cfg, auth.Options{Anvil: sh.anvil, Runner: sh.runner})
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	g.auth = a
	g.closers = append(g.closers, a)
	return a, nil
}

// lmtpServer builds the LMTP server of a master.cf lmtpd service: the SMTP
// engine with Options.LMTP set, for another MTA that hands us mail for our
// own mailboxes. Its recipient policy is fixed, whatever the smtpd_*
// restrictions say: reject_unauth_destination (no relaying, not even for
// mynetworks) then reject_unlisted_recipient. Accepted mail goes into the
// queue through cleanup like any other; the queue manager delivers it, so
// every recipient's reply after DATA is the one 250 of the queueing.
func (g *generation) lmtpServer(cfg *config.Config, svc config.Service, sh *shared) (*smtpd.Server, error) {
	lcfg, err := cfg.Override(map[string]string{
		"smtpd_relay_restrictions":        "reject_unauth_destination",
		"smtpd_recipient_restrictions":    "",
		"smtpd_reject_unlisted_recipient": "yes",
		"smtpd_client_restrictions":       "",
		"smtpd_helo_restrictions":         "",
		"smtpd_sender_restrictions":       "",
		"smtpd_data_restrictions":         "",
		"smtpd_end_of_data_restrictions":  "",
		"smtpd_sasl_auth_enable":          "no",
	})
	if err != nil {
		return nil, err
	}
	srv, err := g.smtpServer(lcfg, svc, sh)
	if err != nil {
		return nil, err
	}
	srv.Opts.LMTP = true
	srv.Opts.HeloRequired = false
	return srv, nil
}

// connServer is what the accept loop hands connections to.
type connServer interface {
	ServeConn(ctx context.Context, c net.Conn)
	Shutdown(ctx context.Context) error
}

// serverTLS loads PREFIX_tls_cert_file and PREFIX_tls_key_file (the key
// may be in the certificate's file, as Postfix allows), or returns nil
// when no certificate is configured. The files are read again at every
// reload, so a renewed certificate takes effect with "mailhorn reload".
func serverTLS(cfg *config.Config, prefix string) (*tls.Config, error) {
	cert, key := cfg.Get(prefix+"_tls_cert_file"), cfg.Get(prefix+"_tls_key_file")
	if cert == "" && key == "" {
		return nil, nil
	}
	if key == "" {
		key = cert
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("%s_tls_cert_file/%s_tls_key_file: %w", prefix, prefix, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// accessAgentSetup gives an access agent (prefix "imapd" or "pop3d") its
// TLS configuration, required in wrapper mode, and the auth service.
func (g *generation) accessAgentSetup(cfg *config.Config, prefix string, wrapper bool, sh *shared) (*tls.Config, *auth.Service, error) {
	tc, err := serverTLS(cfg, prefix)
	if err != nil {
		return nil, nil, err
	}
	if tc == nil && wrapper {
		return nil, nil, fmt.Errorf("%s_tls_wrappermode = yes needs %s_tls_cert_file", prefix, prefix)
	}
	a, err := g.authService(sh)
	if err != nil {
		return nil, nil, err
	}
	return tc, a, nil
}

// imapServer builds the IMAP server of a master.cf imapd service.
func (g *generation) imapServer(cfg *config.Config, svc config.Service, sh *shared) (*imapd.Server, error) {
	o := imapd.DefaultOptions()
	o.Hostname = cfg.Get("myhostname")
	o.WrapperMode = cfg.Bool("imapd_tls_wrappermode")
	o.TLSAuthOnly = cfg.Bool("imapd_tls_auth_only")
	o.Timeout = cfg.Duration("imapd_timeout")
	o.LineLimit = cfg.Int("imapd_command_limit")
	o.LiteralLimit = cfg.Size("imapd_literal_limit")
	o.ConnLimit = cfg.Int("imapd_client_connection_count_limit")
	tc, a, err := g.accessAgentSetup(cfg, "imapd", o.WrapperMode, sh)
	if err != nil {
		return nil, err
	}
	o.TLS = tc
	return &imapd.Server{Opts: o, Auth: a, Users: g.userResolver(cfg), Store: sh.store,
		MailLog: serviceLog(cfg, svc, sh), Log: sh.log}, nil
}

// pop3Server builds the POP3 server of a master.cf pop3d service.
func (g *generation) pop3Server(cfg *config.Config, svc config.Service, sh *shared) (*pop3d.Server, error) {
	o := pop3d.DefaultOptions()
	o.Hostname = cfg.Get("myhostname")
	o.Timeout = cfg.Duration("pop3d_timeout")
	o.ConnLimit = cfg.Int("pop3d_client_connection_count_limit")
	o.TLSAuthOnly = cfg.Bool("pop3d_tls_auth_only")
	o.WrapperMode = cfg.Bool("pop3d_tls_wrappermode")
	tc, a, err := g.accessAgentSetup(cfg, "pop3d", o.WrapperMode, sh)
	if err != nil {
		return nil, err
	}
	o.TLS = tc
	return &pop3d.Server{Opts: o, Auth: a, Users: g.userResolver(cfg), Store: sh.store,
		MailLog: serviceLog(cfg, svc, sh), Log: sh.log, Locks: sh.pop3Locks}, nil
}

// quotaCheck is the virtual agent's quota test: the recipient's quota is
// mail_quota_* or, for a user of auth_user_maps, her quota_rule fields.
// nil when no quota can apply (no defaults and no user table).
func (g *generation) quotaCheck(cfg *config.Config, sh *shared) (func(ctx context.Context, addr, maildir string, size int64) error, error) {
	def := store.Quota{Messages: int64(cfg.Int("mail_quota_messages")), Bytes: cfg.Size("mail_quota_storage")}
	users := len(g.cfg.List("auth_user_maps")) > 0
	if def == (store.Quota{}) && !users {
		return nil, nil
	}
	var a *auth.Service
	if users {
		var err error
		if a, err = g.authService(sh); err != nil {
			return nil, err
		}
	}
	return func(ctx context.Context, addr, maildir string, size int64) error {
		q := def
		if a != nil {
			u, found, err := a.Lookup(ctx, addr)
			if err != nil {
				return err
			}
			if found {
				if q, err = store.QuotaFor(def, quotaRules(u)); err != nil {
					return fmt.Errorf("user %s: quota_rule: %w", u.Name, err)
				}
			}
		}
		if q == (store.Quota{}) {
			return nil
		}
		return sh.store.CheckQuota(ctx, maildir, q, size)
	}, nil
}

// userResolver finds a user's mailbox tree and quota: mail_location for
// the root, mail_quota_* and the userdb's quota_rule fields for the quota.
func (g *generation) userResolver(cfg *config.Config) func(ctx context.Context, u *auth.User) (string, store.Quota, error) {
	location := cfg.Get("mail_location")
	def := store.Quota{Messages: int64(cfg.Int("mail_quota_messages")), Bytes: cfg.Size("mail_quota_storage")}
	return func(ctx context.Context, u *auth.User) (string, store.Quota, error) {
		return userMailbox(location, def, u)
	}
}

// userMailbox applies mail_location and the quota rules to one user.
func userMailbox(location string, def store.Quota, u *auth.User) (string, store.Quota, error) {
	if loc := u.Fields["mail"]; loc != "" {
		location = loc // userdb_mail overrides mail_location, as in Dovecot
	}
	root, err := store.UserRoot(location, u.Name, u.Home)
	if err != nil {
		return "", store.Quota{}, fmt.Errorf("user %s: mail_location: %w", u.Name, err)
	}
	q, err := store.QuotaFor(def, quotaRules(u))
	if err != nil {
		return "", store.Quota{}, fmt.Errorf("user %s: quota_rule: %w", u.Name, err)
	}
	return root, q, nil
}

// quotaRules are a user's userdb quota_rule fields (Dovecot numbers
// further rules quota_rule2, quota_rule3...).
func quotaRules(u *auth.User) []string {
	var rules []string
	for _, k := range []string{"quota_rule", "quota_rule2", "quota_rule3"} {
		if r := u.Fields[k]; r != "" {
			rules = append(rules, r)
		}
	}
	return rules
}

// serviceLogName is the program name on a service's log lines, as Postfix
// writes it: the command ("smtpd", "virtual") when the service is named
// after it or is a plain host:port listener, else "service/command"
// ("submission/smtpd", "relay/smtp").
func serviceLogName(svc config.Service) string {
	if svc.Name == svc.Command || svc.Name == "smtp" && svc.Type == "inet" {
		return svc.Command
	}
	if _, err := strconv.Atoi(svc.Port); err == nil && svc.Type == "inet" {
		return svc.Command
	}
	return svc.Name + "/" + svc.Command
}

// serviceLog is a service's mail log: under its own syslog_name when
// master.cf overrides it ("-o syslog_name=mailhorn/submission" logs as
// "mailhorn/submission/smtpd"), else as serviceLogName says.
func serviceLog(cfg *config.Config, svc config.Service, sh *shared) *maillog.Service {
	if name := cfg.Get("syslog_name"); name != sh.syslogName {
		return sh.mailLog.ServiceAs(name, svc.Command)
	}
	return sh.mailLog.Service(serviceLogName(svc))
}

type closerFunc func()

func (f closerFunc) Close() error { f(); return nil }

func (g *generation) close() {
	for i := len(g.closers) - 1; i >= 0; i-- {
		g.closers[i].Close()
	}
}
