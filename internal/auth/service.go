package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os/user"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mailhorn/internal/anvil"
	"mailhorn/internal/auth/password"
	"mailhorn/internal/config"
	"mailhorn/internal/maps"
	"mailhorn/internal/privsep"
)

// Options are what the Service gets from the process that runs it.
type Options struct {
	// Anvil counts failures per client, shared by every service; nil: a
	// private one.
	Anvil *anvil.Anvil
	Log   *slog.Logger // nil: discard
	// Runner reaches the privileged parent for Unix passwords (OpShadow);
	// nil: /etc/shadow is read by this process (which works as root).
	Runner privsep.Runner
}

// Service is the authentication service of one configuration generation.
type Service struct {
	log    *slog.Logger
	anvil  *anvil.Anvil
	runner privsep.Runner
	dbs    []userDB
	unix   bool
	scheme string
	// dummy is a hash in scheme of a password nobody knows, verified for
	// unknown users so that they cost what a real user costs.
	dummy  string
	delay  time.Duration
	limit  int
	unit   time.Duration
	mechs  []string
	secret []byte // keys SCRAM's fake salts for unknown users

	sem      chan struct{} // bounds concurrent hash verifications (memory)
	verified atomic.Int64  // hash verifications made (tests)
	warned   sync.Map      // user names whose unusable hash was logged
}

// New builds the Service of cfg: auth_user_maps, auth_unix_users,
// auth_password_scheme, auth_mechanisms, auth_failure_delay,
// auth_failure_limit, anvil_rate_time_unit.
func New(cfg *config.Config, o Options) (*Service, error) {
	s := &Service{
		log:    o.Log,
		anvil:  o.Anvil,
		runner: o.Runner,
		unix:   cfg.Bool("auth_unix_users"),
		scheme: strings.ToUpper(cfg.Get("auth_password_scheme")),
		delay:  cfg.Duration("auth_failure_delay"),
		limit:  cfg.Int("auth_failure_limit"),
		unit:   cfg.Duration("anvil_rate_time_unit"),
		sem:    make(chan struct{}, max(2, runtime.NumCPU())),
		secret: make([]byte, 32),
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.anvil == nil {
		s.anvil = anvil.New(nil)
	}
	if s.unit <= 0 {
		s.unit = time.Minute
	}
	rand.Read(s.secret)
	for _, m := range cfg.List("auth_mechanisms") {
		m = strings.ToUpper(m)
		switch m {
		case "PLAIN", "LOGIN", "SCRAM-SHA-256":
		default:
			return nil, fmt.Errorf("auth_mechanisms: unknown mechanism %q (PLAIN, LOGIN, SCRAM-SHA-256)", m)
		}
		if !slices.Contains(s.mechs, m) {
			s.mechs = append(s.mechs, m)
		}
	}
	if !slices.Contains(password.Schemes(), strings.ToUpper(s.scheme)) {
		return nil, fmt.Errorf("auth_password_scheme: %w {%s} for new passwords (use one of %s)",
			password.ErrUnsupported, s.scheme, strings.Join(password.Schemes(), ", "))
	}
	s.dummy = dummyFor(s.scheme)
	for _, spec := range cfg.List("auth_user_maps") {
		db, err := openUserDB(spec, s.log)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("auth_user_maps: %w", err)
		}
		s.dbs = append(s.dbs, db)
	}
	return s, nil
}

// PasswdFileSpec is the table type of Dovecot's format in auth_user_maps.
const PasswdFileSpec = "passwd-file"

func openUserDB(spec string, log *slog.Logger) (userDB, error) {
	if path, ok := strings.CutPrefix(spec, PasswdFileSpec+":"); ok {
		if !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("%s: not an absolute path", spec)
		}
		return openFileDB(path, log)
	}
	t, err := maps.Open(spec)
	if err != nil {
		return nil, err
	}
	return &mapDB{spec: spec, t: t}, nil
}

// mapDB is a lookup table whose value for a user name is the passwd-file
// line without the name (or just "{SCHEME}hash").
type mapDB struct {
	spec string
	t    maps.Table
}

func (d *mapDB) lookup(ctx context.Context, key string) (*Entry, bool, error) {
	v, ok, err := d.t.Lookup(ctx, key)
	if err != nil || !ok {
		return nil, false, err
	}
	e, err := ParseLine(key + ":" + v)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", d.spec, err)
	}
	return &e, true, nil
}

func (d *mapDB) close() error { return d.t.Close() }

// Close closes the tables.
func (s *Service) Close() error {
	var errs []error
	for _, d := range s.dbs {
		errs = append(errs, d.close())
	}
	return errors.Join(errs...)
}

// Mechanisms lists the SASL mechanisms offered (auth_mechanisms). The
// list does not depend on TLS: whether AUTH is offered in clear is the
// caller's policy (smtpd_tls_auth_only).
func (s *Service) Mechanisms(tls bool) []string { return slices.Clone(s.mechs) }

// Start begins a SASL exchange. A client over auth_failure_limit gets
// ErrTooManyFailures at once.
func (s *Service) Start(ctx context.Context, mech string, client netip.Addr, tls bool) (Exchange, error) {
	mech = strings.ToUpper(mech)
	if !slices.Contains(s.mechs, mech) {
		return nil, ErrMechanism
	}
	if s.overLimit(client) {
		return nil, ErrTooManyFailures
	}
	switch mech {
	case "PLAIN":
		return &plainExchange{exchangeBase: exchangeBase{s: s, client: client}}, nil
	case "LOGIN":
		return &loginExchange{exchangeBase: exchangeBase{s: s, client: client}}, nil
	case "SCRAM-SHA-256":
		return &scramExchange{exchangeBase: exchangeBase{s: s, client: client}}, nil
	}
	return nil, ErrMechanism
}

// Verify checks a user name and password (IMAP LOGIN, POP3 USER/PASS),
// with the same defences as Start.
func (s *Service) Verify(ctx context.Context, name, pw string, client netip.Addr) (*User, error) {
	return s.check(ctx, "password", name, pw, client)
}

// Lookup finds an account without a password: virtual users first, then
// (auth_unix_users) the system's accounts, root excepted.
func (s *Service) Lookup(ctx context.Context, name string) (*User, bool, error) {
	key, ok := NormalizeName(name)
	if !ok {
		return nil, false, nil
	}
	e, found, err := s.find(ctx, key)
	if err != nil {
		return nil, false, err
	}
	if found {
		u := e.User
		return &u, true, nil
	}
	if !s.unix {
		return nil, false, nil
	}
	pw, err := user.Lookup(key)
	if err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("%w: look up user %s: %v", ErrTemporary, key, err)
	}
	uid, err1 := strconv.Atoi(pw.Uid)
	gid, err2 := strconv.Atoi(pw.Gid)
	if err1 != nil || err2 != nil || uid == 0 {
		return nil, false, nil
	}
	return &User{Name: pw.Username, UID: uid, GID: gid, Home: pw.HomeDir, Unix: true}, true, nil
}

// find searches auth_user_maps; an unreadable table is ErrTemporary.
func (s *Service) find(ctx context.Context, key string) (*Entry, bool, error) {
	for _, d := range s.dbs {
		e, ok, err := d.lookup(ctx, key)
		if err != nil {
			s.log.Error("user database lookup failed", "user", key, "err", err)
			return nil, false, fmt.Errorf("%w: %v", ErrTemporary, err)
		}
		if ok {
			return e, true, nil
		}
	}
	return nil, false, nil
}

func (s *Service) overLimit(client netip.Addr) bool {
	return s.limit > 0 && s.anvil.Count(anvil.AuthFailure, client, s.unit) >= s.limit
}

// check is every password authentication: the limit, the work, and on
// failure the count, the log line and the delay.
func (s *Service) check(ctx context.Context, mech, name, pw string, client netip.Addr) (*User, error) {
	if s.overLimit(client) {
		return nil, ErrTooManyFailures
	}
	u, err := s.authenticate(ctx, name, pw)
	if err == nil {
		return u, nil
	}
	if errors.Is(err, ErrTemporary) {
		return nil, ErrTemporary
	}
	return nil, s.fail(ctx, mech, name, client)
}

// fail counts a failure, logs it and waits auth_failure_delay.
func (s *Service) fail(ctx context.Context, mech, name string, client netip.Addr) error {
	s.anvil.Add(anvil.AuthFailure, client, 1, s.unit)
	what := "SASL " + mech + " authentication failed"
	if mech == "password" {
		what = "password authentication failed"
	}
	s.log.Warn(what, "client", client.String(), "sasl_username", sanitize(name))
	if s.delay > 0 {
		t := time.NewTimer(s.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	return ErrFailed
}

// sanitize makes a client-given name safe for a log line.
func sanitize(name string) string {
	if len(name) > MaxNameLen {
		name = name[:MaxNameLen]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(name, "?"))
}

// authenticate finds the user and verifies the password: ErrFailed for a
// wrong password and for an unknown user alike, after a hash
// verification either way.
func (s *Service) authenticate(ctx context.Context, name, pw string) (*User, error) {
	key, ok := NormalizeName(name)
	if !ok {
		s.verify(ctx, s.dummy, pw)
		return nil, ErrFailed
	}
	e, found, err := s.find(ctx, key)
	if err != nil {
		return nil, err
	}
	if found {
		if e.Password == "" {
			s.verify(ctx, s.dummy, pw)
			return nil, ErrFailed
		}
		ok, err := s.verify(ctx, e.Password, pw)
		if err != nil {
			s.warnOnce(key, "password hash of user cannot be verified: login refused", err)
			return nil, ErrFailed
		}
		if !ok {
			return nil, ErrFailed
		}
		u := e.User
		return &u, nil
	}
	if s.unix {
		return s.unixCheck(ctx, key, pw)
	}
	s.verify(ctx, s.dummy, pw)
	return nil, ErrFailed
}

// dummyHashes are hashes, one per scheme with the parameters Hash uses,
// of a random password that was thrown away: verifying one costs what
// verifying a user's hash of that scheme costs, and nothing has to be
// computed (an Argon2id hash takes 64 MiB) before the first login.
var dummyHashes = map[string]string{
	password.Argon2ID:    "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=4$YaITxAsGQ8s1246WQCcp2w$7YV9tTGwO8XN4se1G+xLalbofDHZ468oB9Cmauwp0vA",
	password.BlfCrypt:    "{BLF-CRYPT}$2y$12$RURTQjHMWPGOic3Io15NjuSb9W2cTyyBZSzxS3Klka.m8080Fa2ZO",
	password.SHA512Crypt: "{SHA512-CRYPT}$6$Q5XL4mbNueBu0/JR$SEYVb0WuannQjpDx6wtSxtDcgeEpjnakVOXORIUryPVLQyeYKVCZqwmvVprL3eSHADsoBAgk4/7LM95G9LmCs.",
	password.SHA256Crypt: "{SHA256-CRYPT}$5$q5nODV/HSRqKYYp.$T.kiijKebLvDbsowYbrYInma.ME14JTRJlmOiADGyfC",
	password.ScramSHA256: "{SCRAM-SHA-256}4096,W73Gca3UvnBp/DFtoNDRtA==,u5WTifmg6NfafBBmxjafd8qphUmQ5R9e7FvIceJsmic=,csK//hEaquscaH5s88DbIfikoqFfodDQkjyGQXbmfWw=",
}

// dummyFor is the dummy hash of a scheme; for PLAIN, a random password.
func dummyFor(scheme string) string {
	if h, ok := dummyHashes[scheme]; ok {
		return h
	}
	randomPW := make([]byte, 16)
	rand.Read(randomPW)
	return "{" + password.Plain + "}" + fmt.Sprintf("%x", randomPW)
}

// verify runs one hash verification, bounded in concurrency since a hash
// may take 64 MiB of memory.
func (s *Service) verify(ctx context.Context, stored, pw string) (bool, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-s.sem }()
	s.verified.Add(1)
	return password.Verify(stored, pw)
}

func (s *Service) warnOnce(key, msg string, err error) {
	if _, seen := s.warned.LoadOrStore(key, true); !seen {
		s.log.Warn(msg, "user", key, "err", err)
	}
}

// unixCheck verifies a system account's password against /etc/shadow,
// through the privileged parent when there is one.
func (s *Service) unixCheck(ctx context.Context, key, pw string) (*User, error) {
	var acct privsep.ShadowAccount
	var err error
	if s.runner != nil {
		var res privsep.Result
		res, err = s.runner.Run(ctx, &privsep.Request{Op: privsep.OpShadow, As: privsep.Identity{User: key}, Content: strings.NewReader(pw)})
		if err == nil {
			acct, err = privsep.ShadowAnswer(res)
		}
	} else {
		acct, err = privsep.CheckShadow(privsep.DefaultShadowFiles(), key, pw)
	}
	switch {
	case err == nil:
		return &User{Name: key, UID: acct.UID, GID: acct.GID, Home: acct.Home, Unix: true}, nil
	case errors.Is(err, privsep.ErrShadowRefused):
		return nil, ErrFailed
	case errors.Is(err, password.ErrUnsupported):
		s.warnOnce(key, "unix password hash cannot be verified (yescrypt is not supported; set the password again with SHA512-CRYPT, or give the user a virtual account): login refused", err)
		return nil, ErrFailed
	}
	s.log.Error("unix password check failed", "user", key, "err", err)
	return nil, fmt.Errorf("%w: %v", ErrTemporary, err)
}
