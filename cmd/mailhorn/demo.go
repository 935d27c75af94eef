package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"mailhorn/internal/auth/password"
	"mailhorn/internal/config"
	"mailhorn/internal/master"
)

// demoUsers are the demo domain's mailboxes.
var demoUsers = []string{"alice", "bob"}

const demoDomain = "example.test"

// runDemo writes a ready-to-run configuration for the demo domain into a
// local folder (unless one is there already) and runs the mail system in
// the foreground on unprivileged loopback ports.
func runDemo(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("mailhorn demo", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dirFlag := fs.String("dir", "demo", "folder holding the demo's configuration, queue, mailboxes and log")
	port := fs.Int("port", 2525, "SMTP port on 127.0.0.1")
	subPort := fs.Int("submission-port", 2587, "submission port (STARTTLS, AUTH) on 127.0.0.1")
	smtpsPort := fs.Int("smtps-port", 2465, "submission port with implicit TLS on 127.0.0.1")
	imapPort := fs.Int("imap-port", 2143, "IMAP port (STARTTLS) on 127.0.0.1")
	pop3Port := fs.Int("pop3-port", 2110, "POP3 port (STLS) on 127.0.0.1")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return 2
	}
	dir, err := filepath.Abs(*dirFlag)
	if err != nil {
		fmt.Fprintf(e.stderr, "mailhorn demo: %v\n", err)
		return 1
	}
	if os.Getuid() == 0 && !dirGiven(fs, "dir") {
		// As root the mail system drops to an unprivileged account, which
		// cannot reach a folder under a private home such as /root.
		if err := reachable(filepath.Dir(dir), -1); err != nil {
			alt := "/var/tmp/mailhorn-demo"
			fmt.Fprintf(e.stderr, "mailhorn demo: %v\nmailhorn demo: using %s instead\n", err, alt)
			dir = alt
		}
	}
	ports := demoPorts{smtp: *port, submission: *subPort, smtps: *smtpsPort, imap: *imapPort, pop3: *pop3Port}
	if err := writeDemo(ctx, e, dir, ports); err != nil {
		fmt.Fprintf(e.stderr, "mailhorn demo: %v\n", err)
		return 1
	}
	etc := filepath.Join(dir, "etc")
	cfg, err := config.Load(etc, func(msg string) { fmt.Fprintf(e.stderr, "mailhorn demo: warning: %s\n", msg) })
	if err != nil {
		fmt.Fprintf(e.stderr, "mailhorn demo: %v\n", err)
		return 1
	}
	o := master.Options{ConfigDir: etc, LogTo: e.stderr, Ready: func() {
		fmt.Fprintf(e.stdout, `mailhorn demo: a mail system for %[1]s is running (state in %[2]s).
  mailboxes:  alice@%[1]s, bob@%[1]s (Maildirs under %[2]s/mail/)
  users:      alice@%[1]s password %[8]s, bob@%[1]s password %[9]s
  SMTP:       127.0.0.1:%[3]d (MTA: mail for %[1]s from anyone, no relaying)
  submission: 127.0.0.1:%[6]d (STARTTLS then AUTH), 127.0.0.1:%[7]d (TLS from the start)
  IMAP:       127.0.0.1:%[10]d, POP3: 127.0.0.1:%[11]d (STARTTLS/STLS, then log in as a user)
  TLS:        self-signed certificate %[5]s/tls/cert.pem
Send a message as the world does:
  swaks --server 127.0.0.1:%[3]d --from carol@example.net --to alice@%[1]s
Send as alice (a user may send anywhere; this one goes to bob):
  swaks --server 127.0.0.1:%[6]d --tls --auth PLAIN --auth-user alice@%[1]s --auth-password %[8]s \
        --from alice@%[1]s --to bob@%[1]s
then find the messages in %[2]s/mail/*/new/ and their log lines in %[4]s.
Read bob's mail over IMAP (or point any mail client at 127.0.0.1:%[10]d, STARTTLS):
  python3 -c 'import imaplib,ssl; c=imaplib.IMAP4("127.0.0.1",%[10]d); c.starttls(ssl._create_unverified_context())
  c.login("bob@%[1]s","%[9]s"); c.select(); print(c.fetch("1:*","(ENVELOPE)"))'
Configuration: %[5]s/main.cf and master.cf (try: bin/mailhorn conf -c %[5]s -n);
users: bin/mailhorn user -c %[5]s list. Stop with Ctrl-C.
`, demoDomain, dir, ports.smtp, cfg.Get("maillog_file"), etc, ports.submission, ports.smtps, demoPassword("alice"), demoPassword("bob"), ports.imap, ports.pop3)
	}}
	if err := master.Run(ctx, o); err != nil {
		fmt.Fprintf(e.stderr, "mailhorn demo: %v\n", err)
		return 1
	}
	return 0
}

// demoPorts are the demo's listeners on 127.0.0.1.
type demoPorts struct{ smtp, submission, smtps, imap, pop3 int }

// demoPassword is a demo user's password: printed at every start, since
// the demo only listens on the loopback interface.
func demoPassword(user string) string { return user + "-demo-password" }

// writeDemo lays out the demo folder. An existing main.cf, master.cf, user
// file or certificate is kept, so the demo can be edited and restarted.
func writeDemo(ctx context.Context, e *env, dir string, ports demoPorts) error {
	etc := filepath.Join(dir, "etc")
	for _, d := range []string{etc, filepath.Join(dir, "mail"), filepath.Join(dir, "spool"), filepath.Join(dir, "data")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	uid, gid := os.Getuid(), os.Getgid()
	owner := ""
	if uid == 0 {
		// As root the mail system drops to mail_owner; the demo creates
		// that account if the machine lacks it.
		var err error
		if uid, gid, err = demoMailOwner(); err != nil {
			return err
		}
		owner = "mail_owner = mailhorn\n"
		for _, d := range []string{"mail", "spool", "data"} {
			if err := os.Chown(filepath.Join(dir, d), uid, gid); err != nil {
				return err
			}
		}
		if err := reachable(dir, uid); err != nil {
			return err
		}
	}
	mainCF := filepath.Join(etc, "main.cf")
	if _, err := os.Stat(mainCF); errors.Is(err, os.ErrNotExist) {
		text := fmt.Sprintf(`# mailhorn demo configuration (Postfix main.cf syntax). Edit and restart.
myhostname = mail.%[1]s
mydomain = %[1]s
myorigin = $mydomain
# No local (Unix account) delivery in the demo: all mail for %[1]s goes to
# virtual mailboxes.
mydestination =
inet_interfaces = loopback-only
mynetworks = 127.0.0.0/8, [::1]/128
queue_directory = %[2]s/spool
data_directory = %[2]s/data
maillog_file = %[2]s/maillog
alias_maps = hash:%[2]s/etc/aliases
alias_database = hash:%[2]s/etc/aliases
virtual_mailbox_domains = %[1]s
virtual_mailbox_base = %[2]s/mail
virtual_mailbox_maps = hash:%[2]s/etc/vmailbox
virtual_alias_maps = hash:%[2]s/etc/virtual
virtual_uid_maps = static:%[3]d
virtual_gid_maps = static:%[4]d
virtual_minimum_uid = %[3]d
# TLS and the users who may submit mail (see master.cf's submission
# services).
smtpd_tls_cert_file = %[2]s/etc/tls/cert.pem
smtpd_tls_key_file = %[2]s/etc/tls/key.pem
smtpd_tls_security_level = may
auth_user_maps = passwd-file:%[2]s/etc/users
# A user's home (the users file) is her Maildir, as virtual_mailbox_maps says.
mail_location = maildir:~
mua_client_restrictions = permit_sasl_authenticated, reject
mua_helo_restrictions =
mua_sender_restrictions =
%[5]s`, demoDomain, dir, uid, gid, owner)
		if err := os.WriteFile(mainCF, []byte(text), 0o644); err != nil {
			return err
		}
	}
	masterCF := filepath.Join(etc, "master.cf")
	if _, err := os.Stat(masterCF); errors.Is(err, os.ErrNotExist) {
		var b strings.Builder
		fmt.Fprintf(&b, "# mailhorn demo services: SMTP on 127.0.0.1:%d instead of port 25,\n", ports.smtp)
		fmt.Fprintf(&b, "# submission on %d and %d instead of 587 and 465 (Postfix's standard entries).\n", ports.submission, ports.smtps)
		fmt.Fprintf(&b, "127.0.0.1:%d inet n - n - - smtpd\n", ports.smtp)
		fmt.Fprintf(&b, demoSubmission, ports.submission, "submission", "")
		fmt.Fprintf(&b, demoSubmission, ports.smtps, "smtps", "\n  -o smtpd_tls_wrappermode=yes")
		fmt.Fprintf(&b, "# IMAP and POP3 for the users, on %d and %d instead of 143 and 110.\n", ports.imap, ports.pop3)
		fmt.Fprintf(&b, "127.0.0.1:%d inet n - n - - imapd\n", ports.imap)
		fmt.Fprintf(&b, "127.0.0.1:%d inet n - n - - pop3d\n", ports.pop3)
		for _, line := range strings.SplitAfter(config.DefaultMasterCF, "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[1] == "inet" {
				continue
			}
			b.WriteString(line)
		}
		if err := os.WriteFile(masterCF, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	tables := map[string][][2]string{
		"vmailbox": nil,
		"virtual":  {{"postmaster@" + demoDomain, "alice@" + demoDomain}, {"abuse@" + demoDomain, "alice@" + demoDomain}},
		"aliases":  {{"postmaster", "alice@" + demoDomain}, {"mailer-daemon", "postmaster"}},
	}
	for _, u := range demoUsers {
		tables["vmailbox"] = append(tables["vmailbox"], [2]string{u + "@" + demoDomain, u + "/"})
	}
	for name, entries := range tables {
		if err := writeDemoTable(ctx, e, etc, filepath.Join(etc, name), entries); err != nil {
			return err
		}
	}
	return writeDemoSecrets(e, dir, uid, gid)
}

// demoSubmission is Postfix's standard submission entry (Debian's
// master.cf) for a port, a syslog name and extra options.
const demoSubmission = `127.0.0.1:%d inet n - n - - smtpd
  -o syslog_name=mailhorn/%s%s
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
  -o smtpd_reject_unlisted_recipient=no
  -o smtpd_client_restrictions=$mua_client_restrictions
  -o smtpd_helo_restrictions=$mua_helo_restrictions
  -o smtpd_sender_restrictions=$mua_sender_restrictions
  -o smtpd_recipient_restrictions=
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
`

// writeDemoSecrets writes the demo's TLS certificate and user file when
// they are missing. Both must be readable by the mail system, which runs
// as mail_owner (uid, gid) when the demo is started as root.
func writeDemoSecrets(e *env, dir string, uid, gid int) error {
	etc := filepath.Join(dir, "etc")
	cert, key := filepath.Join(etc, "tls", "cert.pem"), filepath.Join(etc, "tls", "key.pem")
	if _, err := os.Stat(cert); errors.Is(err, os.ErrNotExist) {
		quiet := &env{stdin: e.stdin, stdout: io.Discard, stderr: e.stderr, getenv: e.getenv}
		if err := selfSigned(quiet, etc, cert, key, "mail."+demoDomain+",localhost,127.0.0.1", 3650, true); err != nil {
			return err
		}
	}
	users := filepath.Join(etc, "users")
	if _, err := os.Stat(users); errors.Is(err, os.ErrNotExist) {
		var b strings.Builder
		b.WriteString("# mailhorn demo users (Dovecot passwd-file format): mailhorn user -c " + etc + " list\n")
		for _, u := range demoUsers {
			h, err := password.Hash(password.Argon2ID, demoPassword(u))
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "%s@%s:%s:%d:%d::%s::\n", u, demoDomain, h, uid, gid, filepath.Join(dir, "mail", u))
		}
		if err := os.WriteFile(users, []byte(b.String()), 0o640); err != nil {
			return err
		}
	}
	for _, f := range []string{key, users} {
		if err := os.Chown(f, os.Getuid(), gid); err != nil {
			return err
		}
		if err := os.Chmod(f, 0o640); err != nil {
			return err
		}
	}
	return nil
}

// writeDemoTable writes a table's source (once) and builds its index with
// the same code as mailhorn map and mailhorn alias.
func writeDemoTable(ctx context.Context, e *env, etc, path string, entries [][2]string) error {
	aliases := strings.HasSuffix(path, "aliases")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		var b strings.Builder
		for _, kv := range entries {
			if aliases {
				b.WriteString(kv[0] + ": " + kv[1] + "\n")
			} else {
				b.WriteString(kv[0] + " " + kv[1] + "\n")
			}
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	build := runMap
	if aliases {
		build = runAlias
	}
	if build(ctx, e, []string{"-c", etc, "hash:" + path}) != 0 {
		return fmt.Errorf("could not build %s", path)
	}
	return nil
}

// demoMailOwner returns the mailhorn account, creating it when missing.
func demoMailOwner() (int, int, error) {
	u, err := user.Lookup("mailhorn")
	if err != nil {
		out, cerr := exec.Command("useradd", "--system", "--home-dir", "/nonexistent", "--no-create-home",
			"--shell", "/usr/sbin/nologin", "mailhorn").CombinedOutput()
		if cerr != nil {
			return 0, 0, fmt.Errorf("create the mailhorn account: %v: %s", cerr, out)
		}
		if u, err = user.Lookup("mailhorn"); err != nil {
			return 0, 0, err
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uid, gid, nil
}

func dirGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// reachable checks that an unprivileged account can reach dir (every
// parent searchable by others), so that the mail system, once it has
// dropped root, can work there.
func reachable(dir string, _ int) error {
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%s is not searchable by others (mode %v): the mail system runs as the unprivileged mail_owner; choose another -dir, e.g. -dir /var/tmp/mailhorn-demo", d, st.Mode().Perm())
		}
		if d == "/" {
			return nil
		}
	}
}
