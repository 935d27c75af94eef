package auth

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unicode/utf8"
)

// MaxNameLen bounds a user name, in bytes.
const MaxNameLen = 255

// NormalizeName checks a login name and returns its lookup key: lower
// case, as Dovecot's %Lu. Names with control characters or ':', empty
// ones, those that are not UTF-8 and those over MaxNameLen bytes are
// refused (ok false) before any lookup.
func NormalizeName(name string) (key string, ok bool) {
	if name == "" || len(name) > MaxNameLen || !utf8.ValidString(name) {
		return "", false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == ':' || (r >= 0x80 && r < 0xa0) {
			return "", false
		}
	}
	return strings.ToLower(name), true
}

// Entry is one user of a passwd-file or table: the account and the stored
// password ("{SCHEME}hash"; "" for none, which never authenticates).
type Entry struct {
	User     User
	Password string
}

// ParseLine parses one passwd-file line (Dovecot's format):
//
//	user:password:uid:gid:gecos:home:shell:extra_fields
//
// Fields after the password may be left out or empty; extra_fields are
// space-separated key=value (or bare key) pairs, "userdb_" prefixes
// dropped. The caller has removed comments and empty lines.
func ParseLine(line string) (Entry, error) {
	var e Entry
	f := strings.SplitN(line, ":", 8)
	name := f[0]
	if _, ok := NormalizeName(name); !ok {
		return e, fmt.Errorf("bad user name %q", name)
	}
	e.User = User{Name: name, UID: -1, GID: -1}
	field := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	e.Password = field(1)
	for i, p := range []*int{&e.User.UID, &e.User.GID} {
		s := field(2 + i)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 1<<31-2 {
			return e, fmt.Errorf("user %s: %s %q is not a number", name, []string{"uid", "gid"}[i], s)
		}
		*p = n
	}
	e.User.Home = field(5)
	if h := e.User.Home; h != "" && !strings.HasPrefix(h, "/") {
		return e, fmt.Errorf("user %s: home %q is not an absolute path", name, h)
	}
	for _, kv := range strings.Fields(field(7)) {
		k, v, _ := strings.Cut(kv, "=")
		k = strings.TrimPrefix(k, "userdb_")
		if k == "" {
			return e, fmt.Errorf("user %s: extra field %q has no name", name, kv)
		}
		if e.User.Fields == nil {
			e.User.Fields = map[string]string{}
		}
		e.User.Fields[k] = v
	}
	return e, nil
}

// LineError is a bad line of a passwd-file.
type LineError struct {
	File string
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// IsContent tells whether a passwd-file line holds an entry (not a
// comment or empty), and returns it without its line ending.
func IsContent(line string) (string, bool) {
	line = strings.TrimRight(line, "\r\n")
	t := strings.TrimSpace(line)
	return line, t != "" && !strings.HasPrefix(t, "#")
}

// ParseFile reads a passwd-file: the entries by lookup key, and the bad
// lines (skipped, as file:line errors). A name given twice keeps its
// first entry; the second is reported.
func ParseFile(r io.Reader, name string) (map[string]*Entry, []error, error) {
	users := map[string]*Entry{}
	var problems []error
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		raw, err := br.ReadString('\n')
		if line, ok := IsContent(raw); ok {
			e, perr := ParseLine(line)
			key, _ := NormalizeName(e.User.Name)
			switch {
			case perr != nil:
				problems = append(problems, &LineError{name, n, perr})
			case users[key] != nil:
				problems = append(problems, &LineError{name, n, fmt.Errorf("duplicate user %s", e.User.Name)})
			default:
				users[key] = &e
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", name, err)
		}
	}
	return users, problems, nil
}

// userDB is one element of auth_user_maps.
type userDB interface {
	lookup(ctx context.Context, key string) (*Entry, bool, error)
	close() error
}

// stamp identifies a version of a file.
type stamp struct {
	dev, ino uint64
	size     int64
	mtime    int64
}

func stampOf(fi os.FileInfo) stamp {
	s := stamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.dev, s.ino = uint64(st.Dev), uint64(st.Ino)
	}
	return s
}

// fileDB is a passwd-file, parsed again when it changes.
type fileDB struct {
	path string
	log  *slog.Logger

	mu    sync.Mutex
	st    stamp
	users map[string]*Entry
}

func openFileDB(path string, log *slog.Logger) (*fileDB, error) {
	d := &fileDB{path: path, log: log}
	if err := d.refresh(); err != nil {
		return nil, err
	}
	return d, nil
}

// refresh parses the file again if it changed; bad lines are logged.
func (d *fileDB) refresh() error {
	fi, err := os.Stat(d.path)
	if err != nil {
		return fmt.Errorf("passwd-file: %w", err)
	}
	st := stampOf(fi)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.users != nil && st == d.st {
		return nil
	}
	f, err := os.Open(d.path)
	if err != nil {
		return fmt.Errorf("passwd-file: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		st = stampOf(fi)
	}
	users, problems, err := ParseFile(f, d.path)
	if err != nil {
		return fmt.Errorf("passwd-file: %w", err)
	}
	for _, p := range problems {
		d.log.Warn("passwd-file line skipped", "err", p)
	}
	d.users, d.st = users, st
	return nil
}

func (d *fileDB) lookup(ctx context.Context, key string) (*Entry, bool, error) {
	if err := d.refresh(); err != nil {
		return nil, false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.users[key]
	return e, ok, nil
}

func (d *fileDB) close() error { return nil }
