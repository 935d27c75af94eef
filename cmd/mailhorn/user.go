package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/term"

	"mailhorn/internal/auth"
	"mailhorn/internal/auth/password"
	"mailhorn/internal/config"
	"mailhorn/internal/durable"
)

const userUsage = `usage: mailhorn user add NAME [-u UID] [-g GID] [-d HOME] [-e KEY=VALUE]... [-p '{SCHEME}hash'] [-s SCHEME]
       mailhorn user passwd NAME [-p '{SCHEME}hash'] [-s SCHEME]
       mailhorn user del NAME
       mailhorn user list
       mailhorn user check NAME
       mailhorn user hash [-s SCHEME]
common options: -c DIR (configuration directory), -f FILE (the passwd-file;
default: the first passwd-file: of auth_user_maps). Passwords are read from
the terminal without echo (twice), or as one line from standard input.`

// extraFields collects -e KEY=VALUE.
type extraFields []string

func (x *extraFields) String() string { return strings.Join(*x, " ") }
func (x *extraFields) Set(v string) error {
	k, _, _ := strings.Cut(v, "=")
	if k == "" || strings.ContainsAny(v, " \t\r\n") {
		return fmt.Errorf("extra field %q: want KEY=VALUE without spaces", v)
	}
	*x = append(*x, v)
	return nil
}

type userFlags struct {
	dir, file, home, scheme, hash string
	uid, gid                      int
	extra                         extraFields
}

// runUser is mailhorn user: manage the passwd-file of virtual users
// (Dovecot's format). Exit status: 0 done, 1 no such user or wrong
// password (check), 2 on errors.
func runUser(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, userUsage)
		return 2
	}
	verb := args[0]
	var f userFlags
	fs := flag.NewFlagSet("mailhorn user "+verb, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.dir, "c", "", "configuration directory")
	fs.StringVar(&f.file, "f", "", "passwd-file")
	fs.StringVar(&f.home, "d", "", "home directory")
	fs.StringVar(&f.scheme, "s", "", "password scheme")
	fs.StringVar(&f.hash, "p", "", "hashed password")
	fs.IntVar(&f.uid, "u", -1, "uid")
	fs.IntVar(&f.gid, "g", -1, "gid")
	fs.Var(&f.extra, "e", "extra field")
	pos, err := parseInterspersed(fs, args[1:])
	fail := func(err error) int {
		fmt.Fprintf(e.stderr, "mailhorn user: %v\n", err)
		return 2
	}
	if err != nil {
		return fail(fmt.Errorf("%v\n%s", err, userUsage))
	}
	wantArgs := map[string]int{"add": 1, "passwd": 1, "del": 1, "list": 0, "check": 1, "hash": 0}
	n, ok := wantArgs[verb]
	if !ok || len(pos) != n {
		return fail(fmt.Errorf("%s\n%s", "bad arguments", userUsage))
	}
	var name string
	if n == 1 {
		name = pos[0]
		if _, ok := auth.NormalizeName(name); !ok {
			return fail(fmt.Errorf("bad user name %q (empty, over %d bytes, or with ':' or control characters)", name, auth.MaxNameLen))
		}
	}
	cfg, err := config.Load(config.Dir(f.dir, e.getenv), func(msg string) { fmt.Fprintf(e.stderr, "mailhorn user: warning: %s\n", msg) })
	if err != nil {
		return fail(err)
	}
	if f.scheme == "" {
		f.scheme = cfg.Get("auth_password_scheme")
		if f.scheme == "" {
			f.scheme = password.Argon2ID
		}
	}
	if verb == "hash" {
		h, err := newHash(e, f, true)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintln(e.stdout, h)
		return 0
	}
	if f.file == "" {
		for _, spec := range cfg.List("auth_user_maps") {
			if p, ok := strings.CutPrefix(spec, auth.PasswdFileSpec+":"); ok {
				f.file = p
				break
			}
		}
		if f.file == "" {
			return fail(errors.New("no passwd-file: in auth_user_maps; name the file with -f"))
		}
	}
	switch verb {
	case "list":
		return userList(e, f.file)
	case "check":
		return userCheck(e, f, name)
	}
	if err := userEdit(e, f, verb, name); err != nil {
		if errors.Is(err, errNoUser) {
			fmt.Fprintf(e.stderr, "mailhorn user: %v\n", err)
			return 1
		}
		return fail(err)
	}
	return 0
}

// parseInterspersed parses flags and positional arguments in any order.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

var errNoUser = errors.New("no such user")

// readPassword reads a password: from a terminal without echo (twice when
// confirm), else one line of standard input.
func readPassword(e *env, confirm bool) (string, error) {
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(e.stderr, "Password: ")
		p1, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if confirm {
			fmt.Fprint(e.stderr, "Retype password: ")
			p2, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(e.stderr)
			if err != nil {
				return "", fmt.Errorf("read password: %w", err)
			}
			if !bytes.Equal(p1, p2) {
				return "", errors.New("the passwords differ")
			}
		}
		return string(p1), nil
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty password")
	}
	return line, nil
}

// newHash is the stored password of add, passwd and hash: -p's hash as
// given (checked), or a new hash of a password read.
func newHash(e *env, f userFlags, confirm bool) (string, error) {
	if f.hash != "" {
		if !strings.HasPrefix(f.hash, "{") {
			return "", errors.New("-p takes a hashed password ({SCHEME}hash); a clear password is read from the terminal or standard input, never from an argument")
		}
		if strings.ContainsAny(f.hash, ":\n\r") {
			return "", errors.New("-p: a hash cannot contain ':' or a line break")
		}
		if _, err := password.Verify(f.hash, ""); err != nil {
			return "", fmt.Errorf("-p: %w", err)
		}
		return f.hash, nil
	}
	pw, err := readPassword(e, confirm)
	if err != nil {
		return "", err
	}
	return password.Hash(f.scheme, pw)
}

// passwdLines splits a file into lines, line endings kept.
func passwdLines(data []byte) []string {
	var lines []string
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			lines = append(lines, string(data))
			break
		}
		lines = append(lines, string(data[:i+1]))
		data = data[i+1:]
	}
	return lines
}

// lineName is the lookup key of a content line ("" for comments).
func lineName(line string) string {
	l, ok := auth.IsContent(line)
	if !ok {
		return ""
	}
	n, _, _ := strings.Cut(l, ":")
	key, _ := auth.NormalizeName(n)
	return key
}

func userList(e *env, path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(e.stderr, "mailhorn user: %v\n", err)
		return 2
	}
	users, problems, _ := auth.ParseFile(bytes.NewReader(data), path)
	for _, p := range problems {
		fmt.Fprintf(e.stderr, "mailhorn user: warning: %v\n", p)
	}
	// In file order; a duplicate name was reported above.
	for _, line := range passwdLines(data) {
		key := lineName(line)
		if u := users[key]; u != nil {
			fmt.Fprintln(e.stdout, u.User.Name)
			delete(users, key)
		}
	}
	return 0
}

func userCheck(e *env, f userFlags, name string) int {
	data, err := os.ReadFile(f.file)
	if err != nil {
		fmt.Fprintf(e.stderr, "mailhorn user: %v\n", err)
		return 2
	}
	users, _, _ := auth.ParseFile(bytes.NewReader(data), f.file)
	key, _ := auth.NormalizeName(name)
	pw, err := readPassword(e, false)
	if err != nil {
		fmt.Fprintf(e.stderr, "mailhorn user: %v\n", err)
		return 2
	}
	u := users[key]
	if u == nil || u.Password == "" {
		fmt.Fprintf(e.stderr, "mailhorn user: %s: %v\n", name, errNoUser)
		return 1
	}
	ok, err := password.Verify(u.Password, pw)
	if err != nil {
		fmt.Fprintf(e.stderr, "mailhorn user: %s: %v\n", name, err)
		return 2
	}
	if !ok {
		fmt.Fprintf(e.stderr, "mailhorn user: %s: wrong password\n", name)
		return 1
	}
	fmt.Fprintf(e.stdout, "%s: password OK\n", u.User.Name)
	return 0
}

// userEdit performs add, passwd and del, rewriting the file atomically
// with every other line kept byte for byte.
func userEdit(e *env, f userFlags, verb, name string) error {
	data, err := os.ReadFile(f.file)
	var fi fs.FileInfo
	switch {
	case err == nil:
		fi, err = os.Stat(f.file)
		if err != nil {
			return err
		}
	case errors.Is(err, fs.ErrNotExist) && verb == "add":
		data = nil
	default:
		return err
	}
	key, _ := auth.NormalizeName(name)
	lines := passwdLines(data)
	at := -1
	for i, l := range lines {
		if lineName(l) == key {
			at = i
			break
		}
	}
	switch verb {
	case "add":
		if at >= 0 {
			return fmt.Errorf("user %s already exists in %s (line %d)", name, f.file, at+1)
		}
		h, err := newHash(e, f, true)
		if err != nil {
			return err
		}
		uid, gid := "", ""
		if f.uid >= 0 {
			uid = strconv.Itoa(f.uid)
		}
		if f.gid >= 0 {
			gid = strconv.Itoa(f.gid)
		}
		line := strings.Join([]string{name, h, uid, gid, "", f.home, "", f.extra.String()}, ":")
		if _, err := auth.ParseLine(line); err != nil {
			return err
		}
		if n := len(lines); n > 0 && !strings.HasSuffix(lines[n-1], "\n") {
			lines[n-1] += "\n"
		}
		lines = append(lines, line+"\n")
	case "passwd":
		if at < 0 {
			return fmt.Errorf("%w %s in %s", errNoUser, name, f.file)
		}
		h, err := newHash(e, f, true)
		if err != nil {
			return err
		}
		l := lines[at]
		body := strings.TrimRight(l, "\r\n")
		end := l[len(body):]
		parts := strings.SplitN(body, ":", 3)
		for len(parts) < 2 {
			parts = append(parts, "")
		}
		parts[1] = h
		lines[at] = strings.Join(parts, ":") + end
	case "del":
		if at < 0 {
			return fmt.Errorf("%w %s in %s", errNoUser, name, f.file)
		}
		lines = append(lines[:at], lines[at+1:]...)
	}
	return writePasswdFile(f.file, []byte(strings.Join(lines, "")), fi)
}

// writePasswdFile replaces path atomically (temporary file, fsync,
// rename, directory fsync), keeping the old file's mode and owner; a new
// file is 0640.
func writePasswdFile(path string, data []byte, old fs.FileInfo) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	mode := fs.FileMode(0o640)
	if old != nil {
		mode = old.Mode().Perm()
		if st, ok := old.Sys().(*syscall.Stat_t); ok && (int(st.Uid) != os.Geteuid() || int(st.Gid) != os.Getegid()) {
			if err := tmp.Chown(int(st.Uid), int(st.Gid)); err != nil {
				return fail(err)
			}
		}
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return durable.SyncDir(dir)
}
