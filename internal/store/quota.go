package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Usage counts messages and their bytes on disk (Dovecot's default, not
// the RFC822.SIZE with CRLF), over INBOX and every folder, from the
// indexes' headers (one small read per folder) plus the files in new/ not
// indexed yet (their names' ",S=" or a stat). Files that another program
// changed in cur/ are counted once a session has synced the folder.
func treeUsage(ctx context.Context, root string) (Usage, error) {
	var u Usage
	dirs := []string{root}
	ents, err := os.ReadDir(root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return u, nil
		}
		return u, fmt.Errorf("quota of %s: %w", root, err)
	}
	for _, e := range ents {
		if _, ok := nameOfDir(e.Name()); ok && e.IsDir() {
			dirs = append(dirs, filepath.Join(root, e.Name()))
		}
	}
	for _, d := range dirs {
		if err := ctx.Err(); err != nil {
			return u, err
		}
		n, b, err := folderUsage(d)
		if err != nil {
			return u, fmt.Errorf("quota of %s: %w", root, err)
		}
		u.Messages += n
		u.Bytes += b
	}
	return u, nil
}

func folderUsage(dir string) (n, bytes int64, err error) {
	indexed := false
	if fh, err := os.Open(filepath.Join(dir, indexFile)); err == nil {
		buf := make([]byte, headerSize)
		_, rerr := io.ReadFull(fh, buf)
		fh.Close()
		if h, herr := decodeHeader(buf); rerr == nil && herr == nil {
			n, bytes, indexed = int64(h.messages), h.psize, true
		}
	}
	subs := []string{"new"}
	if !indexed {
		subs = append(subs, "cur")
	}
	for _, sub := range subs {
		names, err := readNames(filepath.Join(dir, sub))
		if errors.Is(err, ErrNoMailbox) {
			continue
		}
		if err != nil {
			return 0, 0, err
		}
		for _, name := range names {
			base, _ := splitName(name)
			s, _ := sizesFromName(base)
			if s < 0 {
				st, err := os.Stat(filepath.Join(dir, sub, name))
				if err != nil {
					continue
				}
				s = st.Size()
			}
			n++
			bytes += s
		}
	}
	return n, bytes, nil
}

func (u *userImpl) usage(ctx context.Context) (Usage, error) { return treeUsage(ctx, u.root) }

// checkQuota refuses adding count messages of bytes when the result would
// exceed the user's quota.
func (u *userImpl) checkQuota(ctx context.Context, count, bytes int64) error {
	return checkQuota(ctx, u.root, u.quota, count, bytes)
}

func checkQuota(ctx context.Context, root string, q Quota, count, bytes int64) error {
	if q.Messages <= 0 && q.Bytes <= 0 {
		return nil
	}
	use, err := treeUsage(ctx, root)
	if err != nil {
		return err
	}
	if q.Messages > 0 && use.Messages+count > q.Messages {
		return fmt.Errorf("%w: %d of %d messages", ErrOverQuota, use.Messages, q.Messages)
	}
	if q.Bytes > 0 && use.Bytes+bytes > q.Bytes {
		return fmt.Errorf("%w: %d of %d bytes", ErrOverQuota, use.Bytes, q.Bytes)
	}
	return nil
}

// CheckQuota tells a delivery agent whether one more message of size
// bytes fits in the tree at root under q (ErrOverQuota: defer with
// 4.2.2). It reads only the indexes' headers and new/.
func (s *Store) CheckQuota(ctx context.Context, root string, q Quota, size int64) error {
	return checkQuota(ctx, root, q, 1, size)
}

// UserRoot expands a Dovecot-style mail_location ("maildir:~/Maildir")
// for a user: "~" at the start is the home directory; %u is the user
// name, %n its local part, %d its domain, %h the home, %% a '%'. Only the
// maildir format is supported; ":KEY=value" options after the path are
// ignored except LAYOUT, which must be maildir++ when given.
func UserRoot(location, user, home string) (string, error) {
	typ, rest, ok := strings.Cut(location, ":")
	if !ok || !strings.EqualFold(typ, "maildir") {
		return "", fmt.Errorf("mail_location %q: only maildir:PATH is supported", location)
	}
	parts := strings.Split(rest, ":")
	path := parts[0]
	for _, opt := range parts[1:] {
		k, v, _ := strings.Cut(opt, "=")
		if strings.EqualFold(k, "LAYOUT") && !strings.EqualFold(v, "maildir++") {
			return "", fmt.Errorf("mail_location %q: only LAYOUT=maildir++ is supported", location)
		}
	}
	local, domain, _ := strings.Cut(user, "@")
	// The user's name must not climb out of the configured directory.
	if strings.Contains(path, "%") {
		for _, v := range []string{user, local, domain} {
			if v == "." || v == ".." || strings.ContainsAny(v, "/\x00") {
				return "", fmt.Errorf("mail_location %q: user name %q is unsafe in a path", location, user)
			}
		}
	}
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+1 == len(path) {
			return "", fmt.Errorf("mail_location %q: '%%' at the end", location)
		}
		i++
		switch path[i] {
		case 'u':
			b.WriteString(user)
		case 'n':
			b.WriteString(local)
		case 'd':
			b.WriteString(domain)
		case 'h':
			b.WriteString(home)
		case '%':
			b.WriteByte('%')
		default:
			return "", fmt.Errorf("mail_location %q: unknown variable %%%c", location, path[i])
		}
	}
	p := b.String()
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home == "" {
			return "", fmt.Errorf("mail_location %q: user %s has no home directory", location, user)
		}
		p = home + p[1:]
	}
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("mail_location %q: %q is not an absolute path", location, p)
	}
	return filepath.Clean(p), nil
}

// QuotaFor applies userdb quota_rule values (Dovecot syntax, only the "*"
// root: "*:storage=100M", "*:messages=1000", "*:storage=+10%", several
// limits in one rule separated by ':') to the default quota. Sizes take
// b, k, M, G, T suffixes (powers of 1024); a bare number is bytes. "+N" and
// "-N" adjust the default, "N%" is a percentage of it; 0 is unlimited.
func QuotaFor(def Quota, rules []string) (Quota, error) {
	q := def
	for _, r := range rules {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		box, limits, ok := strings.Cut(r, ":")
		if !ok {
			return def, fmt.Errorf("quota_rule %q: want MAILBOX:LIMIT", r)
		}
		if box != "*" {
			return def, fmt.Errorf("quota_rule %q: only the \"*\" rule is supported", r)
		}
		for _, l := range strings.Split(limits, ":") {
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				if strings.EqualFold(l, "none") || strings.EqualFold(l, "ignore") {
					q = Quota{}
					continue
				}
				return def, fmt.Errorf("quota_rule %q: bad limit %q", r, l)
			}
			switch strings.ToLower(k) {
			case "storage", "bytes":
				n, err := quotaValue(v, def.Bytes, true)
				if err != nil {
					return def, fmt.Errorf("quota_rule %q: %w", r, err)
				}
				q.Bytes = n
			case "messages":
				n, err := quotaValue(v, def.Messages, false)
				if err != nil {
					return def, fmt.Errorf("quota_rule %q: %w", r, err)
				}
				q.Messages = n
			case "backend":
			default:
				return def, fmt.Errorf("quota_rule %q: unknown limit %q", r, k)
			}
		}
	}
	return q, nil
}

func quotaValue(v string, def int64, size bool) (int64, error) {
	rel := byte(0)
	if v != "" && (v[0] == '+' || v[0] == '-') {
		rel, v = v[0], v[1:]
	}
	if p, ok := strings.CutSuffix(v, "%"); ok {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad percentage %q", v)
		}
		v = strconv.FormatInt(def*n/100, 10)
	}
	mult := int64(1)
	if size && v != "" {
		switch v[len(v)-1] {
		case 'b', 'B':
			v = v[:len(v)-1]
		case 'k', 'K':
			mult, v = 1<<10, v[:len(v)-1]
		case 'm', 'M':
			mult, v = 1<<20, v[:len(v)-1]
		case 'g', 'G':
			mult, v = 1<<30, v[:len(v)-1]
		case 't', 'T':
			mult, v = 1<<40, v[:len(v)-1]
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("bad value %q", v)
	}
	n *= mult
	switch rel {
	case '+':
		n = def + n
	case '-':
		n = max(def-n, 0)
	}
	return n, nil
}
