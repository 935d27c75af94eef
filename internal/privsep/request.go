package privsep

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"mailhorn/internal/deliver"
)

// Op is what a delivery does.
type Op string

const (
	// OpMbox appends the message to a UNIX mailbox file, locked (a user's
	// mailbox or a /file target).
	OpMbox Op = "mbox"
	// OpMaildir writes the message into a Maildir (Path ends in "/").
	OpMaildir Op = "maildir"
	// OpCommand runs a command with the message on its standard input.
	OpCommand Op = "command"
	// OpRead reads a user's .forward file (Path) with her rights, since
	// her home directory may be closed to the mail system; the content
	// comes back in Result.Data. It carries no message.
	OpRead Op = "read"
)

// Source says what named the target of a delivery; the parent checks a
// request against it (only a "mailbox" request may run as root, and only
// into root's own mailbox).
type Source string

const (
	SourceMailbox Source = "mailbox" // the user's own mailbox
	SourceAlias   Source = "alias"   // a |command or /file from alias_maps
	SourceForward Source = "forward" // ... from a user's .forward
	SourceInclude Source = "include" // ... from an :include: file
	SourcePipe    Source = "pipe"    // a master.cf pipe(8) service
)

// Identity is whom a delivery runs as. With User set, the privileged
// parent checks UID against the passwd entry of that name and adds the
// user's supplementary groups; without it (the owner of an alias table or
// :include: file), UID and GID are used as given, never 0.
type Identity struct {
	User string `json:"user,omitempty"`
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
	// Home, Shell: for the command environment (HOME, SHELL).
	Home  string `json:"home,omitempty"`
	Shell string `json:"shell,omitempty"`
}

// Copy says how the message is written: what comes before the content
// (Prefix: a From_ line and the headers the agent adds), and how the
// content is transformed on the way.
type Copy struct {
	Prefix    []byte `json:"prefix,omitempty"`
	QuoteFrom bool   `json:"quote_from,omitempty"` // ">From " for lines starting with "From "
	DotStuff  bool   `json:"dot_stuff,omitempty"`  // "." before lines starting with "."
	EOL       string `json:"eol,omitempty"`        // line ending; "" is "\n"
	// BlankLine ends the message with an empty line (mbox), adding a
	// missing final newline first.
	BlankLine bool `json:"blank_line,omitempty"`
}

// Lock is the mailbox locking of an mbox delivery: mailbox_delivery_lock,
// deliver_lock_attempts, deliver_lock_delay and stale_lock_time.
type Lock struct {
	Dotlock  bool          `json:"dotlock,omitempty"`
	Fcntl    bool          `json:"fcntl,omitempty"`
	Attempts int           `json:"attempts,omitempty"` // 0: 20
	Delay    time.Duration `json:"delay,omitempty"`    // 0: 1s
	Stale    time.Duration `json:"stale,omitempty"`    // 0: 500s
}

// DefaultLock is Postfix's locking on Linux.
func DefaultLock() Lock {
	return Lock{Dotlock: true, Fcntl: true, Attempts: 20, Delay: time.Second, Stale: 500 * time.Second}
}

// Request is one delivery to run with the rights of As.
type Request struct {
	Op     Op       `json:"op"`
	Source Source   `json:"source"`
	As     Identity `json:"as"`
	// QueueID and Recipient label log lines and error texts.
	QueueID   string `json:"queue_id,omitempty"`
	Recipient string `json:"recipient,omitempty"`

	// Path is the mbox file or the Maildir (OpMbox, OpMaildir): absolute.
	Path string `json:"path,omitempty"`
	// Mailbox file delivery settings (OpMbox).
	Lock            Lock  `json:"lock"`
	StrictOwnership bool  `json:"strict_ownership,omitempty"` // the file must belong to As.UID
	SizeLimit       int64 `json:"size_limit,omitempty"`       // largest file or message; 0: none
	// Hostname names Maildir files (OpMaildir).
	Hostname string `json:"hostname,omitempty"`

	// Command (OpCommand): Argv is executed directly; Shell, when Argv is
	// empty, is a command line run as local(8) runs it (directly when it
	// has no shell syntax, else with ShellPath -c, default /bin/sh).
	Argv      []string      `json:"argv,omitempty"`
	Shell     string        `json:"shell,omitempty"`
	ShellPath string        `json:"shell_path,omitempty"`
	Env       []string      `json:"env,omitempty"`        // the whole environment, NAME=value
	Dir       string        `json:"dir,omitempty"`        // working directory; "" or unusable: "/"
	TimeLimit time.Duration `json:"time_limit,omitempty"` // 0: none
	// OutputLimit bounds the command output kept for the result text.
	OutputLimit int `json:"output_limit,omitempty"`

	Copy Copy `json:"copy"`
	// Size is the content's size; a content shorter than that defers.
	Size int64 `json:"size"`
	// Content is the message content (Size bytes). It is not part of the
	// encoded request: it travels as a file descriptor.
	Content io.Reader `json:"-"`
}

// Result is the outcome of a request.
type Result struct {
	Status deliver.Status `json:"status"`
	DSN    string         `json:"dsn"`
	Text   string         `json:"text"`
	// Offset is where the message starts in an mbox file (for biff).
	Offset int64 `json:"offset,omitempty"`
	// Data is what OpRead read; Absent says there was no such file.
	Data   []byte `json:"data,omitempty"`
	Absent bool   `json:"absent,omitempty"`
}

// Resultf builds a Result.
func Resultf(st deliver.Status, dsn, format string, args ...any) Result {
	return Result{Status: st, DSN: dsn, Text: fmt.Sprintf(format, args...)}
}

// Runner runs deliveries with the right identity. An error means the
// runner itself failed (no answer from the privileged parent): the caller
// defers the delivery.
type Runner interface {
	Run(ctx context.Context, req *Request) (Result, error)
}

// Check validates the form of a request: a known operation and source,
// absolute paths, a command to run, an identity.
func (r *Request) Check() error {
	switch r.Op {
	case OpMbox, OpMaildir:
		if !cleanAbs(r.Path) {
			return fmt.Errorf("path %q is not an absolute clean path", r.Path)
		}
		if r.Op == OpMaildir && !strings.HasSuffix(r.Path, "/") {
			return fmt.Errorf("maildir %q does not end in /", r.Path)
		}
	case OpRead:
		if !cleanAbs(r.Path) || strings.HasSuffix(r.Path, "/") {
			return fmt.Errorf("path %q is not an absolute clean file path", r.Path)
		}
		if r.Source != SourceForward || r.As.User == "" {
			return fmt.Errorf("only a user's .forward is read")
		}
	case OpShadow:
		if r.As.User == "" {
			return fmt.Errorf("no user name to check")
		}
		return nil
	case OpCommand:
		if len(r.Argv) == 0 && strings.TrimSpace(r.Shell) == "" {
			return fmt.Errorf("no command")
		}
		if len(r.Argv) > 0 && !filepath.IsAbs(r.Argv[0]) {
			return fmt.Errorf("command %q is not an absolute path", r.Argv[0])
		}
		if r.ShellPath != "" && !filepath.IsAbs(r.ShellPath) {
			return fmt.Errorf("shell %q is not an absolute path", r.ShellPath)
		}
		if r.Dir != "" && !filepath.IsAbs(r.Dir) {
			return fmt.Errorf("directory %q is not absolute", r.Dir)
		}
	default:
		return fmt.Errorf("unknown operation %q", r.Op)
	}
	switch r.Source {
	case SourceMailbox:
		if r.Op == OpCommand {
			return fmt.Errorf("a mailbox is not a command")
		}
	case SourceAlias, SourceForward, SourceInclude:
	case SourcePipe:
		if r.Op != OpCommand {
			return fmt.Errorf("pipe delivers to commands only")
		}
	default:
		return fmt.Errorf("unknown source %q", r.Source)
	}
	if r.As.UID < 0 || r.As.GID < 0 {
		return fmt.Errorf("no identity (uid %d, gid %d)", r.As.UID, r.As.GID)
	}
	if r.Size < 0 {
		return fmt.Errorf("negative size")
	}
	return nil
}

// checkPrivileges refuses root's rights (uid or gid 0) for anything but
// root's own mailbox and .forward, as local(8) and pipe(8) do: files and
// commands of root-owned aliases run as default_privs.
func (r *Request) checkPrivileges() error {
	ownRoot := r.As.User == "root" && r.As.UID == 0 && (r.Source == SourceMailbox || r.Op == OpRead)
	if (r.As.UID == 0 || r.As.GID == 0) && !ownRoot {
		return fmt.Errorf("refusing to deliver with root privileges (uid %d, gid %d)", r.As.UID, r.As.GID)
	}
	return nil
}

// cleanAbs: absolute, without "." or ".." components or doubled slashes
// (a trailing slash is allowed: Maildirs).
func cleanAbs(p string) bool {
	if !filepath.IsAbs(p) {
		return false
	}
	t := strings.TrimSuffix(p, "/")
	if t == "" {
		return false
	}
	return filepath.Clean(t) == t
}

// MailboxPath is where a user's mail goes, as local(8) decides: a Maildir
// under the home when homeMailbox ends in "/", an mbox file under the home
// for another homeMailbox, else spoolDir/USER (a Maildir when spoolDir ends
// in "/").
func MailboxPath(homeMailbox, spoolDir, user, home string) (path string, maildir bool) {
	switch {
	case strings.HasSuffix(homeMailbox, "/"):
		return filepath.Join(home, homeMailbox) + "/", true
	case homeMailbox != "":
		return filepath.Join(home, homeMailbox), false
	case strings.HasSuffix(spoolDir, "/"):
		return spoolDir + user + "/", true
	}
	return filepath.Join(spoolDir, user), false
}
