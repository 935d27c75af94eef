package local

import (
	"net"
	"strconv"
	"strings"

	"mailhorn/internal/aliases"
	"mailhorn/internal/config"
	"mailhorn/internal/maillog"
	"mailhorn/internal/privsep"
	"mailhorn/internal/store"
)

// New builds an agent from main.cf. The caller owns the alias tables
// behind x, the Maildir writer and the submitter.
func New(cfg *config.Config, x *aliases.Expander, users Users, w *store.Writer, sub Submitter, log *maillog.Service) *Agent {
	a := &Agent{
		Config:            cfg,
		Expander:          x,
		Users:             users,
		Writer:            w,
		Submitter:         sub,
		HomeMailbox:       cfg.Get("home_mailbox"),
		SpoolDir:          cfg.Get("mail_spool_directory"),
		SizeLimit:         cfg.Size("mailbox_size_limit"),
		HeaderLimit:       cfg.Size("header_size_limit"),
		ForwardPath:       cfg.List("forward_path"),
		ForwardFilter:     cfg.Get("forward_expansion_filter"),
		LuserRelay:        cfg.Get("luser_relay"),
		MailboxCommand:    cfg.Get("mailbox_command"),
		MailboxTransport:  cfg.Get("mailbox_transport"),
		FallbackTransport: cfg.Get("fallback_transport"),
		StrictOwnership:   true,
		Lock:              privsep.DefaultLock(),
		DefaultPrivs:      cfg.Get("default_privs"),
		CommandTimeLimit:  cfg.Duration("command_time_limit"),
		CommandShell:      cfg.Get("local_command_shell"),
		CommandFilter:     cfg.Get("command_expansion_filter"),
		ExportEnv:         cfg.List("export_environment"),
		Hostname:          cfg.Get("myhostname"),
		MailName:          cfg.Get("mail_name"),
		Log:               log,
	}
	a.StrictOwnership = cfg.Bool("strict_mailbox_ownership")
	a.Lock.Dotlock, a.Lock.Fcntl = false, false
	for _, m := range cfg.List("mailbox_delivery_lock") {
		switch strings.ToLower(m) {
		case "dotlock":
			a.Lock.Dotlock = true
		case "fcntl":
			a.Lock.Fcntl = true
		}
	}
	a.Lock.Attempts = cfg.Int("deliver_lock_attempts")
	a.Lock.Delay = cfg.Duration("deliver_lock_delay")
	a.Lock.Stale = cfg.Duration("stale_lock_time")
	if cfg.Bool("biff") {
		a.Biff = comsat
	}
	return a
}

// comsat tells the local comsat(8) service of new mail ("user@offset"), as
// Postfix's biff = yes does. It is best effort: no comsat, no message.
func comsat(user string, offset int64) {
	port, err := net.LookupPort("udp", "biff")
	if err != nil {
		port = 512
	}
	c, err := net.Dial("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return
	}
	defer c.Close()
	c.Write([]byte(user + "@" + strconv.FormatInt(offset, 10) + "\x00"))
}
