// Package privsep is privilege separation for deliveries: everything that
// must act as another user — writing a local user's mbox or Maildir,
// appending to a /file target, running a |command or a pipe(8) command —
// goes through a Runner as a Request that names the operation, the
// identity (uid, gid, user name) and the source of the target (mailbox,
// alias, forward, include, pipe).
//
// Runners:
//   - InProcess performs the request in this process when its uid is the
//     process's own, and defers it otherwise ("mail system not running as
//     root: cannot deliver as uid N"): the mail system started by a user.
//   - Client sends it to the privileged parent over a SOCK_SEQPACKET
//     socket pair (one message per request: JSON plus two descriptors, a
//     reply socket and a pipe carrying the content), the mail system
//     started as root and running as mail_owner.
//   - Spawner is the parent's side: it checks the request, then starts a
//     helper process (this binary's hidden HelperCommand) with the
//     identity's uid, gid and groups (exec.Cmd SysProcAttr.Credential),
//     passing the request on fd 3 and the content on stdin; the helper
//     performs it and writes the Result to stdout. Serve answers a
//     Client's requests with a Spawner; RunParent is the whole root side
//     (start the mail system as mail_owner with its listeners, forward
//     signals, serve, exit with it).
//
// Operations: mbox append as Postfix's local(8) (safe open, dotlock and
// fcntl lock, From_ line and ">From " quoting from the request's Copy,
// fsync, truncation back to the old size on any failure,
// mailbox_size_limit), Maildir write through package store, and commands
// as Postfix's pipe_command (process group of their own, killed at the
// time limit with their children; output kept up to a limit for the
// bounce; sysexits mapping, an RFC 3463 code at the start of the output
// wins).
//
// Security notes: the root parent never parses network input, never opens
// a queue file (the child passes the content through a pipe, so the
// helper, which the recipient could ptrace, sees the message but not the
// envelope; the helper also clears its dumpable flag), and never performs
// an operation itself, with one exception: OpShadow (Unix passwords for
// the auth service, auth_unix_users) is answered by the parent, which
// reads /etc/shadow and verifies the password one request at a time; the
// password arrives in the content pipe and is never logged, and root and
// locked accounts are refused. It refuses uid or gid 0 except for root's own
// mailbox (as local(8)), checks a named user's uid against the passwd
// database and a mailbox path against home_mailbox/mail_spool_directory,
// allows only the user's groups (or the spool's group for the spool
// mailbox), and refuses mail_owner's uid for pipe(8). What it cannot
// check — whether an alias or .forward really lists a |command or /file —
// the child checks (allow_mail_to_commands, allow_mail_to_files): a
// compromised mail_owner process can thus run commands as any non-root
// account, which is still less than Postfix's local(8), which runs as
// root.
package privsep
