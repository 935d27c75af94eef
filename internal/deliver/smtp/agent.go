package smtp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"mailhorn/internal/deliver"
	"mailhorn/internal/maps"
)

// Timeouts are the per-stage time limits (smtp_*_timeout, lmtp_*_timeout).
// Zero means no limit.
type Timeouts struct {
	Connect, Helo, Mail, Rcpt, DataInit, DataXfer, DataDone, Quit, Rset time.Duration
}

// TLS levels (smtp_tls_security_level).
const (
	TLSNone    = "none"
	TLSMay     = "may"
	TLSEncrypt = "encrypt"
	TLSVerify  = "verify"
	TLSSecure  = "secure"
)

// Options configure one agent; the wiring fills them from main.cf and
// master.cf. The protocol code never reads configuration.
type Options struct {
	LMTP        bool   // speak LMTP (lmtp(8)) instead of SMTP
	DefaultPort string // "25" (smtp), lmtp_tcp_port ("24") for LMTP
	HeloName    string // smtp_helo_name / lmtp_lhlo_name
	NeverEHLO   bool   // smtp_never_send_ehlo
	// Bind4, Bind6 are smtp_bind_address, smtp_bind_address6.
	Bind4, Bind6 string
	// Protocols is inet_protocols.
	Protocols       []string
	Timeouts        Timeouts
	MXAddressLimit  int  // smtp_mx_address_limit; 0: none
	MXSessionLimit  int  // smtp_mx_session_limit; 0: none
	Skip5xxGreeting bool // smtp_skip_5xx_greeting
	FallbackRelay   []string

	// TLSLevel is smtp_tls_security_level ("" is may for SMTP, none for
	// LMTP). RootCAs come from smtp_tls_CAfile/CApath (nil: the system
	// pool); ClientCert from smtp_tls_cert_file/key_file.
	TLSLevel   string
	RootCAs    *x509.CertPool
	ClientCert *tls.Certificate
	// SecureMatch is smtp_tls_secure_cert_match: "nexthop" and/or
	// "dot-nexthop", or literal names.
	SecureMatch []string

	// SASL client authentication (smtp_sasl_auth_enable): Passwords is
	// smtp_sasl_password_maps ("user:password" values).
	SASL            bool
	Passwords       maps.Table
	SenderDependent bool // smtp_sender_dependent_authentication

	// CacheTime is smtp_connection_cache_time_limit when
	// smtp_connection_cache_on_demand is on; 0 disables the cache.
	CacheTime time.Duration
}

// DefaultOptions are Postfix's defaults (postconf -d) for smtp(8), or for
// lmtp(8) when lmtp is true.
func DefaultOptions(lmtp bool) Options {
	o := Options{
		DefaultPort:     "25",
		HeloName:        "localhost",
		Protocols:       []string{"all"},
		MXAddressLimit:  5,
		MXSessionLimit:  2,
		Skip5xxGreeting: true,
		SecureMatch:     []string{"nexthop", "dot-nexthop"},
		CacheTime:       2 * time.Second,
		Timeouts: Timeouts{
			Connect: 30 * time.Second, Helo: 300 * time.Second, Mail: 300 * time.Second,
			Rcpt: 300 * time.Second, DataInit: 120 * time.Second, DataXfer: 180 * time.Second,
			DataDone: 600 * time.Second, Quit: 300 * time.Second, Rset: 20 * time.Second,
		},
	}
	if lmtp {
		o.LMTP, o.DefaultPort, o.Timeouts.Connect, o.TLSLevel = true, "24", 0, TLSNone
	}
	return o
}

// Agent is the smtp(8) or lmtp(8) delivery agent. It is safe for
// concurrent use; Close ends the cached sessions.
type Agent struct {
	opts     Options
	resolver Resolver
	log      *slog.Logger

	mu     sync.Mutex
	cache  map[string][]*session
	closed bool
}

// New returns an agent. resolver nil: the system resolver; log nil:
// slog.Default().
func New(opts Options, resolver Resolver, log *slog.Logger) *Agent {
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	if log == nil {
		log = slog.Default()
	}
	return &Agent{opts: opts, resolver: resolver, log: log, cache: map[string][]*session{}}
}

func (a *Agent) relayName() string {
	if a.opts.LMTP {
		return "lmtp"
	}
	return "smtp"
}

// Deliver implements deliver.Agent.
func (a *Agent) Deliver(ctx context.Context, req *deliver.Request) []deliver.Result {
	start := time.Now()
	o := &a.opts
	if len(req.Recipients) == 0 {
		return nil
	}
	dest, err := parseNexthop(req.Nexthop, o.DefaultPort, o.LMTP)
	if err != nil {
		return deliver.All(req, deliver.Deferred, "4.3.5", "mail system configuration error: "+err.Error(), a.relayName())
	}
	out := make([]outcome, len(req.Recipients))
	relay, setup, last := a.attempt(ctx, req, dest, req.Nexthop, out)
	if last != nil && !last.permanent() && len(o.FallbackRelay) > 0 {
		for _, fb := range o.FallbackRelay {
			fd, err := parseNexthop(fb, o.DefaultPort, o.LMTP)
			if err != nil {
				a.log.Warn("smtp_fallback_relay: "+err.Error(), "relay", fb)
				continue
			}
			fd.domain = dest.domain
			relay, setup, last = a.attempt(ctx, req, fd, fb, out)
			if last == nil || last.permanent() {
				break
			}
		}
	}
	total := time.Since(start)
	res := make([]deliver.Result, len(req.Recipients))
	for i, r := range req.Recipients {
		oc := out[i]
		if !oc.done {
			oc = outcome{status: deliver.Deferred, dsn: "4.4.1", text: "delivery was not attempted"}
			if last != nil {
				oc = outcome{status: deliver.StatusOf(last.dsn), dsn: last.dsn, text: last.text, remote: last.remote}
			}
			if ctx.Err() != nil {
				oc = outcome{status: deliver.Deferred, dsn: "4.3.0", text: "delivery interrupted: " + ctx.Err().Error()}
			}
		}
		res[i] = deliver.Result{Index: r.Index, Status: oc.status, DSN: oc.dsn, Text: oc.text, Relay: relay,
			Remote: oc.remote, Setup: setup, Transmit: total - setup}
	}
	return res
}

func (e *stageError) permanent() bool { return e.dsn != "" && e.dsn[0] == '5' }

// attempt delivers to one destination: a cached session first, then each
// address in turn until a session completes a transaction. It returns the
// relay label, the set-up time and the failure that decides the undecided
// recipients (nil when all were decided).
func (a *Agent) attempt(ctx context.Context, req *deliver.Request, d destination, key string, out []outcome) (string, time.Duration, *stageError) {
	o := &a.opts
	start := time.Now()
	login := a.loginFor(ctx, req, d, target{})
	if s := a.fromCache(key, login); s != nil {
		setup := time.Since(start)
		if err := a.run(ctx, s, req, d, out); err == nil || !err.fatal {
			a.release(key, s)
			return s.t.label(), setup, err
		}
		s.conn.Close()
		if allDone(out) {
			return s.t.label(), setup, nil
		}
	}
	targets, err := route(ctx, a.resolver, d, networkFor(o.Protocols), o.MXAddressLimit)
	if err != nil {
		re := err.(*routeError)
		return a.relayName(), time.Since(start), &stageError{dsn: re.dsn, text: re.text}
	}
	var last *stageError
	relay := a.relayName()
	sessions := 0
	for _, t := range targets {
		if ctx.Err() != nil {
			return relay, time.Since(start), &stageError{dsn: "4.3.0", text: "delivery interrupted"}
		}
		if o.MXSessionLimit > 0 && sessions >= o.MXSessionLimit {
			break
		}
		relay = t.label()
		conn, err := dial(ctx, t, o.Timeouts.Connect, o.Bind4, o.Bind6)
		if err != nil {
			last = &stageError{dsn: "4.4.1", text: connectError(t, err)}
			continue
		}
		sessions++
		s := newSession(conn, t, o, key)
		if e := a.open(ctx, s, req, d); e != nil {
			s.quit(o)
			last = e
			if e.permanent() && !e.fatal {
				break
			}
			continue
		}
		setup := time.Since(start)
		e := a.run(ctx, s, req, d, out)
		if e != nil && e.fatal {
			s.conn.Close()
		} else {
			a.release(key, s)
		}
		if e == nil || allDone(out) {
			return relay, setup, nil
		}
		// A failure mid-transaction decides the rest: Postfix does not
		// send the same message to another MX once one accepted part of
		// the conversation.
		return relay, setup, e
	}
	if last == nil {
		last = &stageError{dsn: "4.4.1", text: "no address to try"}
	}
	return relay, time.Since(start), last
}

func allDone(out []outcome) bool {
	for _, o := range out {
		if !o.done {
			return false
		}
	}
	return true
}

func newSession(conn net.Conn, t target, o *Options, key string) *session {
	s := &session{conn: conn, t: t, lmtp: o.LMTP, timeout: o.Timeouts, dest: key}
	s.r, s.w = newRW(conn)
	return s
}

// open takes a fresh connection through greeting, EHLO, STARTTLS and AUTH.
func (a *Agent) open(ctx context.Context, s *session, req *deliver.Request, d destination) *stageError {
	o := &a.opts
	stop := context.AfterFunc(ctx, func() { s.conn.SetDeadline(time.Now()) })
	defer stop()
	if e := s.hello(o); e != nil {
		return e
	}
	level := o.TLSLevel
	if level == "" {
		level = TLSMay
		if o.LMTP {
			level = TLSNone
		}
	}
	if level != TLSNone {
		if !s.ext.has("STARTTLS") {
			if level != TLSMay {
				return &stageError{dsn: "4.7.4", fatal: true, text: fmt.Sprintf("TLS is required, but was not offered by host %s", s.t.hostLabel())}
			}
		} else {
			if e := s.starttls(o, a.tlsConfig(level, s.t, d)); e != nil {
				return e
			}
			kind := "Anonymous"
			switch level {
			case TLSVerify, TLSSecure:
				kind = "Verified"
			}
			a.log.Info(fmt.Sprintf("%s TLS connection established to %s: %s", kind, s.t.label(), s.tls))
		}
	}
	if o.SASL && s.ext.has("AUTH") {
		login := a.loginFor(ctx, req, d, s.t)
		if login != "" {
			if e := s.auth(o, login); e != nil {
				return e
			}
			s.login = login
		}
	}
	return nil
}

// run does one transaction on an open session.
func (a *Agent) run(ctx context.Context, s *session, req *deliver.Request, d destination, out []outcome) *stageError {
	stop := context.AfterFunc(ctx, func() { s.conn.SetDeadline(time.Now()) })
	defer stop()
	todo := *req
	todo.Recipients = nil
	var idx []int
	for i, r := range req.Recipients {
		if !out[i].done {
			todo.Recipients = append(todo.Recipients, r)
			idx = append(idx, i)
		}
	}
	sub := make([]outcome, len(idx))
	e := s.transaction(&a.opts, &todo, sub)
	for j, i := range idx {
		if sub[j].done {
			out[i] = sub[j]
		}
	}
	if e != nil && !e.fatal {
		// A rejected MAIL FROM or DATA decides every recipient left; the
		// session itself is fine once reset.
		for _, i := range idx {
			if !out[i].done {
				out[i] = outcome{done: true, status: deliver.StatusOf(e.dsn), dsn: e.dsn, text: e.text, remote: e.remote}
			}
		}
		if !s.rset(&a.opts) {
			e.fatal = true
			s.broken = true
		}
		return nil
	}
	return e
}

// tlsConfig is the client TLS configuration for level.
func (a *Agent) tlsConfig(level string, t target, d destination) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.name}
	if t.addr.IsValid() && t.name == t.addr.String() {
		cfg.ServerName = ""
	}
	if a.opts.ClientCert != nil {
		cfg.Certificates = []tls.Certificate{*a.opts.ClientCert}
	}
	switch level {
	case TLSVerify, TLSSecure:
		names := []string{t.name}
		if level == TLSSecure {
			names = secureNames(a.opts.SecureMatch, d.domain)
		}
		roots := a.opts.RootCAs
		cfg.InsecureSkipVerify = true // verified below, against our names
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			return verifyChain(cs, roots, names)
		}
	default:
		// may and encrypt: encryption without authentication (RFC 7435).
		cfg.InsecureSkipVerify = true
	}
	return cfg
}

// secureNames expands smtp_tls_secure_cert_match for the next-hop domain:
// "nexthop" is the domain itself, "dot-nexthop" any name below it
// (written ".domain").
func secureNames(match []string, domain string) []string {
	var out []string
	for _, m := range match {
		switch strings.ToLower(m) {
		case "nexthop":
			out = append(out, domain)
		case "dot-nexthop":
			out = append(out, "."+domain)
		default:
			out = append(out, strings.ToLower(m))
		}
	}
	return out
}

// verifyChain checks the server's chain against roots and that the
// certificate names one of names; a name ".example" matches any name
// below example.
func verifyChain(cs tls.ConnectionState, roots *x509.CertPool, names []string) error {
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("server certificate not verified: no certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); err != nil {
		return fmt.Errorf("server certificate not trusted: %w", err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, ".") {
			for _, dn := range leaf.DNSNames {
				if strings.HasSuffix(strings.ToLower(dn), n) {
					return nil
				}
			}
			continue
		}
		if leaf.VerifyHostname(n) == nil {
			return nil
		}
	}
	return fmt.Errorf("server certificate not verified: name mismatch, expected %s, certificate has %v", strings.Join(names, " or "), leaf.DNSNames)
}
