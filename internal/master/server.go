package master

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mailhorn/internal/anvil"
	"mailhorn/internal/pop3d"
	"net"
	"os"
	"sync"
	"time"

	"mailhorn/internal/config"
	"mailhorn/internal/control"
	"mailhorn/internal/deliver"
	"mailhorn/internal/deliver/local"
	"mailhorn/internal/maillog"
	"mailhorn/internal/pickup"
	"mailhorn/internal/privsep"
	"mailhorn/internal/qmgr"
	"mailhorn/internal/queue"
	"mailhorn/internal/store"
)

// Options are what Run needs besides the configuration directory.
type Options struct {
	ConfigDir string
	// LogTo receives the mail log and the operational log when maillog_file
	// is not set and Syslog is false (stderr for start-fg).
	LogTo io.Writer
	// Syslog sends the logs to the local syslog daemon when maillog_file is
	// not set (a daemon started with "mailhorn start").
	Syslog bool
	// Reload asks for main.cf, master.cf and the tables to be read again.
	Reload <-chan struct{}
	// Ready is called once the listeners accept connections.
	Ready func()
	// ShutdownGrace bounds how long open SMTP sessions may go on at stop.
	ShutdownGrace time.Duration
	// NoPrivilegeDrop keeps a root process root (tests that run the server
	// in-process). Never set it in production.
	NoPrivilegeDrop bool
	// Inherited is set in the mail system proper when a root parent
	// started it as mail_owner (privilege separation): the listeners and
	// the privileged delivery socket come from the parent, which also holds
	// the pid file.
	Inherited bool
}

// deliveryCommands are the master.cf commands that are delivery agents:
// each service running one is a transport the queue manager can use.
var deliveryCommands = map[string]bool{
	"local": true, "virtual": true, "smtp": true, "lmtp": true, "pipe": true,
	"discard": true, "error": true, "retry": true,
}

// Run is the mail system: it reads the configuration, takes the queue's pid
// file, binds the listeners, drops privileges when started as root, and
// runs the queue manager and the SMTP services until ctx is done.
func Run(ctx context.Context, o Options) error {
	if o.LogTo == nil {
		o.LogTo = os.Stderr
	}
	if o.ShutdownGrace == 0 {
		o.ShutdownGrace = 10 * time.Second
	}
	cfg, services, err := load(o.ConfigDir, o.LogTo)
	if err != nil {
		return err
	}
	qdir := cfg.Get("queue_directory")
	if !o.Inherited {
		if err := os.MkdirAll(qdir, 0o755); err != nil {
			return fmt.Errorf("queue_directory: %w", err)
		}
		pid, err := LockPID(PIDPath(qdir))
		if err != nil {
			return err
		}
		defer pid.Release()
	}
	asRoot := os.Geteuid() == 0 && !o.NoPrivilegeDrop && !o.Inherited
	var owner struct{ uid, gid int }
	if asRoot {
		if owner.uid, owner.gid, err = mailOwner(cfg.Get("mail_owner")); err != nil {
			return err
		}
	}

	var ml *maillog.Logger
	switch f := cfg.Get("maillog_file"); {
	case f != "":
		lf, err := os.OpenFile(f, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return fmt.Errorf("maillog_file: %w", err)
		}
		defer lf.Close()
		if asRoot {
			// The mail system proper, running as mail_owner, opens it too.
			if err := lf.Chown(owner.uid, owner.gid); err != nil {
				return fmt.Errorf("maillog_file: %w", err)
			}
		}
		ml = maillog.New(lf, cfg.Get("syslog_name"), cfg.Get("myhostname"))
	case o.Syslog:
		if ml, err = maillog.NewSyslog(cfg.Get("syslog_name"), cfg.Get("myhostname")); err != nil {
			return fmt.Errorf("%w (set maillog_file to log to a file instead)", err)
		}
	default:
		ml = maillog.New(o.LogTo, cfg.Get("syslog_name"), cfg.Get("myhostname"))
	}
	// Operational messages (start, stop, reload, errors) share the mail
	// log, as in Postfix, under the program name "master".
	log := slog.New(ml.Service("master").Handler())

	q, err := queue.Open(qdir, queue.NewIDSource(os.Getpid(), nil))
	if err != nil {
		return err
	}
	var lns []listener
	var runner privsep.Runner
	if o.Inherited {
		client, named, ok, err := privsep.Inherited(os.Getenv)
		if err == nil && !ok {
			err = errors.New("started as the mail system proper without a privileged parent")
		}
		if err != nil {
			return err
		}
		defer client.Close()
		runner = client
		if lns, err = inheritedListeners(services, named); err != nil {
			return err
		}
	} else if lns, err = bind(ctx, cfg, services); err != nil {
		return err
	}
	defer closeListeners(lns)
	if asRoot {
		if err := chownTree(qdir, owner.uid, owner.gid); err != nil {
			return fmt.Errorf("queue_directory: %w", err)
		}
		return runParent(ctx, o, cfg, lns, owner.uid, owner.gid, log)
	}
	maildirs := store.NewWriter(cfg.Get("myhostname"))
	st := store.New(store.Options{Log: log})
	defer st.Close()
	maildirs.OnDeliver = st.Notify
	if runner == nil {
		runner = &privsep.InProcess{Maildirs: maildirs}
	}

	m := &master{opts: o, log: log, live: map[*generation]bool{}}
	var mgr *qmgr.Manager
	sh := &shared{
		queue:      q,
		notify:     notifyFunc(func(id string) { mgr.Queued(id) }),
		mailLog:    ml,
		log:        log,
		maildirs:   maildirs,
		runner:     runner,
		anvil:      anvil.New(nil),
		store:      st,
		pop3Locks:  pop3d.NewLocks(),
		syslogName: cfg.Get("syslog_name"),
	}
	m.sh = sh
	g, err := buildGeneration(ctx, cfg, services, sh)
	if err != nil {
		return err
	}
	m.cur.p.Store(g)
	m.live[g] = true

	agents := map[string]deliver.Agent{}
	agentLogs := map[string]*maillog.Service{}
	maxproc := map[string]int{}
	for _, svc := range services {
		if svc.Type == "unix" && deliveryCommands[svc.Command] {
			agents[svc.Name] = agent{cur: &m.cur, name: svc.Name}
			agentLogs[svc.Name] = ml.Service(serviceLogName(svc))
			maxproc[svc.Name] = svc.ProcessLimit(cfg)
		}
	}
	mgr = qmgr.New(qmgr.Options{
		Queue: q, Agents: agents, Resolver: &m.cur, Submitter: &m.cur,
		Log: ml.Service("qmgr"), AgentLogs: agentLogs,
		Settings: qmgr.SettingsFromConfig(cfg, maxproc),
	})
	qctx, stopQmgr := context.WithCancel(context.WithoutCancel(ctx))
	qdone := make(chan error, 1)
	go func() { qdone <- mgr.Run(qctx) }()
	// Accept mail only once the queue manager has listed what is already
	// queued: then every file its scan finds was complete or abandoned.
	sctx, stopWait := context.WithCancel(ctx)
	scanned := make(chan error, 1)
	go func() { scanned <- mgr.WaitScanned(sctx) }()
	select {
	case err := <-qdone:
		stopWait()
		stopQmgr()
		return fmt.Errorf("queue manager: %w", err)
	case err := <-scanned:
		stopWait()
		if err != nil {
			// Stopped before the queue was listed: a clean stop.
			stopQmgr()
			<-qdone
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}

	// Local submissions (sendmail) wait in maildrop/ for pickup, when
	// master.cf runs one as Postfix's does.
	pctx, stopPickup := context.WithCancel(ctx)
	defer stopPickup()
	pdone := make(chan struct{})
	if hasService(services, "pickup") {
		if err := pickup.Prepare(qdir); err != nil {
			stopQmgr()
			<-qdone
			return fmt.Errorf("maildrop: %w", err)
		}
		p, err := pickup.New(pickup.Options{
			Dir: qdir, Submit: m.cur.Submit, Log: ml.Service("pickup"), Users: pickupUsers{},
			Hostname: cfg.Get("myhostname"), MailName: cfg.Get("mail_name"),
		})
		if err != nil {
			stopQmgr()
			<-qdone
			return err
		}
		go func() {
			defer close(pdone)
			if err := p.Run(pctx); err != nil && pctx.Err() == nil {
				log.Error("pickup", "err", err)
			}
		}()
	} else {
		close(pdone)
	}

	// The queue tools (mailq, mailhorn queue/super) reach the running queue
	// manager through public/showq and private/control.
	ch := &control.QueueHandler{Queue: q, Admin: mgr, EmptyAddress: cfg.Get("empty_address_recipient")}
	cctx, stopControl := context.WithCancel(ctx)
	defer stopControl()
	var ctl sync.WaitGroup
	for _, acc := range []control.Access{control.Public, control.Private} {
		ln, err := control.Listen(qdir, acc)
		if err != nil {
			stopControl()
			ctl.Wait()
			stopQmgr()
			<-qdone
			return err
		}
		srv := &control.Server{Access: acc, Log: log}
		ctl.Add(1)
		go func() {
			defer ctl.Done()
			if err := srv.Serve(cctx, ln, ch); err != nil {
				log.Error("control socket", "err", err)
			}
		}()
	}

	var accepting sync.WaitGroup
	for _, l := range lns {
		accepting.Add(1)
		go func() {
			defer accepting.Done()
			m.accept(ctx, l)
		}()
	}
	log.Info(fmt.Sprintf("daemon started -- version %s, configuration %s", cfg.Get("mail_version"), o.ConfigDir))
	if o.Ready != nil {
		o.Ready()
	}

	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-o.Reload:
			m.reload(ctx)
		}
	}

	log.Info("daemon stopping")
	closeListeners(lns)
	accepting.Wait()
	m.shutdown()
	stopControl()
	ctl.Wait()
	stopPickup()
	<-pdone
	stopQmgr()
	qerr := <-qdone
	m.mu.Lock()
	for g := range m.live {
		g.close()
	}
	m.mu.Unlock()
	if qerr != nil && !errors.Is(qerr, context.Canceled) {
		return qerr
	}
	return nil
}

func load(dir string, logw io.Writer) (*config.Config, []config.Service, error) {
	cfg, err := config.Load(dir, func(msg string) { fmt.Fprintf(logw, "mailhorn: warning: %s\n", msg) })
	if err != nil {
		return nil, nil, err
	}
	services, err := config.LoadMaster(dir)
	if err != nil {
		return nil, nil, err
	}
	return cfg, services, nil
}

// master is the running system.
type master struct {
	opts Options
	log  *slog.Logger
	sh   *shared
	cur  current

	mu   sync.Mutex
	live map[*generation]bool // generations with sessions or in service
}

// accept hands each connection to the SMTP server of the current
// generation.
func (m *master) accept(ctx context.Context, l listener) {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			m.log.Error("accept", "service", l.svc.Name, "err", err)
			time.Sleep(100 * time.Millisecond) // EMFILE and the like: do not spin
			continue
		}
		g := m.cur.get()
		srv := g.servers[l.svc.Name]
		if srv == nil {
			// The service left master.cf at a reload; its socket stays
			// bound until a restart.
			io.WriteString(c, "421 4.3.0 Service not available, closing transmission channel\r\n")
			c.Close()
			continue
		}
		g.sessions.Add(1)
		go func() {
			defer g.sessions.Done()
			srv.ServeConn(ctx, c)
		}()
	}
}

// reload reads the configuration again. On error the running generation
// stays, and the error is logged: a typo in main.cf never stops the mail.
func (m *master) reload(ctx context.Context) {
	old := m.cur.get()
	cfg, services, err := load(m.opts.ConfigDir, m.opts.LogTo)
	if err == nil && !sameListeners(old.services, services) {
		m.log.Warn("reload: listener changes in master.cf need a restart; other changes take effect")
	}
	var g *generation
	if err == nil {
		g, err = buildGeneration(ctx, cfg, services, m.sh)
	}
	if err != nil {
		m.log.Error("reload failed; keeping the running configuration", "err", err)
		return
	}
	m.mu.Lock()
	m.live[g] = true
	m.mu.Unlock()
	m.cur.p.Store(g)
	m.log.Info(fmt.Sprintf("reload -- version %s, configuration %s", cfg.Get("mail_version"), m.opts.ConfigDir))
	go func() {
		old.sessions.Wait()
		m.mu.Lock()
		delete(m.live, old)
		m.mu.Unlock()
		old.close()
	}()
}

func sameListeners(a, b []config.Service) bool {
	key := func(ss []config.Service) map[string]bool {
		k := map[string]bool{}
		for _, s := range ss {
			if listens(s) {
				k[s.Name+"/"+s.Type+"/"+s.Command] = true
			}
		}
		return k
	}
	ka, kb := key(a), key(b)
	if len(ka) != len(kb) {
		return false
	}
	for k := range ka {
		if !kb[k] {
			return false
		}
	}
	return true
}

// shutdown ends the SMTP sessions of every generation: idle ones at once
// with 421, busy ones when they finish or at the grace deadline.
func (m *master) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), m.opts.ShutdownGrace)
	defer cancel()
	m.mu.Lock()
	var gens []*generation
	for g := range m.live {
		gens = append(gens, g)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, g := range gens {
		for _, srv := range g.servers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				srv.Shutdown(ctx)
			}()
		}
	}
	wg.Wait()
	for _, g := range gens {
		g.sessions.Wait()
	}
}

type notifyFunc func(id string)

func (f notifyFunc) Queued(id string) { f(id) }

func discardLogs() (*maillog.Logger, *slog.Logger) {
	return maillog.New(io.Discard, "mailhorn", "localhost"), slog.New(slog.NewTextHandler(io.Discard, nil))
}

// runParent is the root side of privilege separation: the mail system
// proper runs as mail_owner in a child process with the listeners bound
// here, and this process only runs deliveries as other users for it.
func runParent(ctx context.Context, o Options, cfg *config.Config, lns []listener, uid, gid int, log *slog.Logger) error {
	var files []privsep.Listener
	for _, l := range lns {
		f, err := privsep.ListenerFile(l.ln)
		if err != nil {
			return err
		}
		files = append(files, privsep.Listener{Name: l.svc.Name, File: f})
	}
	closeListeners(lns)
	sp := &privsep.Spawner{Log: log}
	sp.SetPolicy(spawnPolicy(cfg, uid))
	code, err := privsep.RunParent(ctx, privsep.ParentOptions{
		Args:      []string{"master-child", "-c", o.ConfigDir},
		UID:       uid,
		GID:       gid,
		Listeners: files,
		Spawner:   sp,
		Stderr:    o.LogTo,
		Log:       log,
		Started:   o.Ready,
		Reload: func() {
			c, err := config.Load(o.ConfigDir, func(string) {})
			if err != nil {
				log.Error("reload: keeping the delivery policy", "err", err)
				return
			}
			sp.SetPolicy(spawnPolicy(c, uid))
		},
	})
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("the mail system (running as mail_owner) exited with status %d", code)
	}
	return nil
}

func spawnPolicy(cfg *config.Config, mailOwnerUID int) privsep.Policy {
	return privsep.Policy{HomeMailbox: cfg.Get("home_mailbox"), SpoolDir: cfg.Get("mail_spool_directory"), MailOwner: mailOwnerUID}
}

// inheritedListeners matches the sockets a root parent bound to the
// master.cf services they belong to (by name; a service may have several).
func inheritedListeners(services []config.Service, named []privsep.NamedListener) ([]listener, error) {
	var out []listener
	for _, nl := range named {
		found := false
		for _, svc := range services {
			if listens(svc) && svc.Name == nl.Name {
				out = append(out, listener{svc: svc, ln: nl.Listener})
				found = true
				break
			}
		}
		if !found {
			closeListeners(out)
			nl.Listener.Close()
			return nil, fmt.Errorf("inherited listener for unknown service %q (master.cf changed? restart)", nl.Name)
		}
	}
	return out, nil
}

func hasService(services []config.Service, command string) bool {
	for _, svc := range services {
		if svc.Command == command {
			return true
		}
	}
	return false
}

// pickupUsers tells pickup the login name of a maildrop file's owner.
type pickupUsers struct{}

func (pickupUsers) LookupID(ctx context.Context, uid int) (string, bool, error) {
	u, ok, err := local.SystemUsers{}.LookupID(ctx, uid)
	return u.Name, ok, err
}
