package privsep

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"mailhorn/internal/deliver"
)

// HelperCommand is the hidden mailhorn subcommand that runs one delivery
// (Helper).
const HelperCommand = "privhelper"

// maxMessage bounds an encoded request or result.
const maxMessage = 128 << 10

// Policy is what the privileged side checks requests against, from
// main.cf.
type Policy struct {
	HomeMailbox string // home_mailbox
	SpoolDir    string // mail_spool_directory
	// MailOwner is mail_owner's uid: pipe(8) refuses to run commands with
	// it (the mail system's own files would be at the command's mercy).
	MailOwner int
}

// Account is a passwd entry as the Spawner sees it.
type Account struct {
	UID, GID int
	Home     string
	Groups   []int // supplementary groups, the primary one included
}

// LookupAccount reads the passwd and group databases through os/user.
func LookupAccount(name string) (Account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return Account{}, err
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return Account{}, fmt.Errorf("user %s: non-numeric uid %q or gid %q", name, u.Uid, u.Gid)
	}
	a := Account{UID: uid, GID: gid, Home: u.HomeDir, Groups: []int{gid}}
	ids, err := u.GroupIds()
	if err != nil {
		return Account{}, fmt.Errorf("groups of user %s: %w", name, err)
	}
	for _, s := range ids {
		if g, err := strconv.Atoi(s); err == nil && g != gid {
			a.Groups = append(a.Groups, g)
		}
	}
	return a, nil
}

// Spawner is the privileged side: it checks each request against the
// passwd database and the policy, then runs it in a helper process (this
// binary's HelperCommand) with the request's uid, gid and groups. It is a
// Runner itself, used by the parent's Serve and by tests.
type Spawner struct {
	// Exe and Args start a helper: default /proc/self/exe (this very
	// binary, even if it was replaced on disk) and HelperCommand.
	Exe  string
	Args []string
	// Env is added to the helper's environment (PATH only otherwise).
	Env []string
	// Lookup finds accounts; nil: LookupAccount.
	Lookup func(name string) (Account, error)
	Log    *slog.Logger // nil: discard

	mu     sync.RWMutex
	policy Policy

	shadowMu sync.Mutex // OpShadow checks run one at a time
}

// SetPolicy replaces the policy (at start and after a reload).
func (s *Spawner) SetPolicy(p Policy) {
	s.mu.Lock()
	s.policy = p
	s.mu.Unlock()
}

func (s *Spawner) getPolicy() Policy {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.policy
}

func (s *Spawner) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// credential decides and checks the identity of a request.
func (s *Spawner) credential(req *Request) (*syscall.Credential, error) {
	if err := req.Check(); err != nil {
		return nil, err
	}
	if err := req.checkPrivileges(); err != nil {
		return nil, err
	}
	pol := s.getPolicy()
	if req.Source == SourcePipe && req.As.UID == pol.MailOwner {
		return nil, fmt.Errorf("refusing to run a command with the privileges of the mail system owner (uid %d)", req.As.UID)
	}
	if req.As.User == "" {
		if req.Source == SourceMailbox {
			return nil, errors.New("mailbox delivery without a user name")
		}
		return &syscall.Credential{Uid: uint32(req.As.UID), Gid: uint32(req.As.GID), Groups: []uint32{uint32(req.As.GID)}}, nil
	}
	lookup := s.Lookup
	if lookup == nil {
		lookup = LookupAccount
	}
	acct, err := lookup(req.As.User)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", req.As.User, err)
	}
	if acct.UID != req.As.UID {
		return nil, fmt.Errorf("user %s has uid %d, not %d", req.As.User, acct.UID, req.As.UID)
	}
	groups := make([]uint32, 0, len(acct.Groups)+1)
	okGID := false
	for _, g := range acct.Groups {
		groups = append(groups, uint32(g))
		okGID = okGID || g == req.As.GID
	}
	if req.Source == SourceMailbox {
		want, _ := MailboxPath(pol.HomeMailbox, pol.SpoolDir, req.As.User, acct.Home)
		if filepath.Clean(req.Path) != filepath.Clean(want) {
			return nil, fmt.Errorf("%s is not the mailbox of user %s (%s)", req.Path, req.As.User, want)
		}
		// local(8) writes into a group-writable spool with the spool's
		// group (Debian's /var/mail is root:mail 2775).
		if fi, err := os.Stat(filepath.Dir(filepath.Clean(req.Path))); err == nil && fi.Mode().Perm()&0o020 != 0 {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Gid) == req.As.GID && st.Gid != 0 {
				okGID = true
				groups = append(groups, st.Gid)
			}
		}
	}
	if !okGID {
		return nil, fmt.Errorf("gid %d is not a group of user %s", req.As.GID, req.As.User)
	}
	return &syscall.Credential{Uid: uint32(req.As.UID), Gid: uint32(req.As.GID), Groups: groups}, nil
}

// Run implements Runner: check, then run the request in a helper process
// with the request's identity. A request that fails the checks is
// deferred with the reason (a configuration or software problem, never
// the recipient's fault).
func (s *Spawner) Run(ctx context.Context, req *Request) (Result, error) {
	if req.Op == OpShadow {
		s.shadowMu.Lock()
		defer s.shadowMu.Unlock()
		return shadowResult(req, DefaultShadowFiles()), nil
	}
	cred, err := s.credential(req)
	if err != nil {
		s.log().Warn("privileged delivery refused", "queue_id", req.QueueID, "recipient", req.Recipient, "err", err)
		return Resultf(deliver.Deferred, "4.3.5", "mail system configuration error: %v", err), nil
	}
	return s.spawn(ctx, req, cred)
}

func (s *Spawner) spawn(ctx context.Context, req *Request, cred *syscall.Credential) (Result, error) {
	data, err := json.Marshal(req)
	if err != nil {
		return Result{}, fmt.Errorf("encode request: %w", err)
	}
	exe, args := s.Exe, s.Args
	if exe == "" {
		exe = "/proc/self/exe"
	}
	if args == nil {
		args = []string{HelperCommand}
	}
	rr, rw, err := os.Pipe()
	if err != nil {
		return Result{}, fmt.Errorf("request pipe: %w", err)
	}
	defer rr.Close()
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append([]string{"PATH=" + DefaultPath}, s.Env...)
	cmd.Dir = "/"
	cmd.Stdin = req.Content
	var out, errOut bytes.Buffer
	cmd.Stdout = &limitedWriter{buf: &out, n: maxMessage}
	cmd.Stderr = &limitedWriter{buf: &errOut, n: 4096}
	cmd.ExtraFiles = []*os.File{rr}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	cmd.Cancel = func() error {
		// The helper stops its command and answers; if it does not, the
		// WaitDelay below kills it.
		return cmd.Process.Signal(syscall.SIGTERM)
	}
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		rw.Close()
		return Result{}, fmt.Errorf("start delivery helper as uid %d: %w", cred.Uid, err)
	}
	_, werr := rw.Write(data)
	rw.Close()
	waitErr := cmd.Wait()
	if waitErr != nil || werr != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if msg := bytes.TrimSpace(errOut.Bytes()); len(msg) > 0 {
		s.log().Warn("delivery helper", "queue_id", req.QueueID, "uid", cred.Uid, "stderr", string(msg))
	}
	var res Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Status == 0 {
		if ctx.Err() != nil {
			return Resultf(deliver.Deferred, "4.3.0", "delivery interrupted: %v", ctx.Err()), nil
		}
		return Result{}, fmt.Errorf("delivery helper as uid %d: no result (%v, %v)", cred.Uid, waitErr, werr)
	}
	return res, nil
}

// limitedWriter keeps the first n bytes.
type limitedWriter struct {
	buf *bytes.Buffer
	n   int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if room := l.n - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
