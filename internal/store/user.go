package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"mailhorn/internal/durable"
)

const (
	subscriptionsFile = "subscriptions"
	specialUseFile    = "mailhorn-special-use"
	deletedPrefix     = "..mailhorn-deleted."
)

// userImpl is one user's tree.
type userImpl struct {
	st    *storeImpl
	root  string
	quota Quota
	mu    sync.Mutex // subscriptions and special-use files
}

// specialUse returns the canonical spelling of an RFC 6154 attribute.
func specialUse(a string) (string, bool) {
	for _, u := range []string{`\All`, UseArchive, UseDrafts, `\Flagged`, UseJunk, UseSent, UseTrash} {
		if strings.EqualFold(a, u) {
			return u, true
		}
	}
	return "", false
}

// ErrBadUse is returned by Create for a special-use attribute that RFC
// 6154 does not define (IMAP's USEATTR response code).
var ErrBadUse = errors.New("unsupported special-use attribute")

func (s *storeImpl) openUser(ctx context.Context, root string, q Quota) (*User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !filepath.IsAbs(root) {
		return nil, fmt.Errorf("mail root %q is not an absolute path", root)
	}
	u := &userImpl{st: s, root: filepath.Clean(root), quota: q}
	if err := u.mkdirs(u.root); err != nil {
		return nil, err
	}
	if err := Maildir(u.root).InitOwned(0o700, s.owner); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(u.root, specialUseFile)); errors.Is(err, fs.ErrNotExist) {
		// First open: create the special-use folders and remember them.
		names := make([]string, 0, len(s.specialUse))
		for n := range s.specialUse {
			names = append(names, n)
		}
		sort.Strings(names)
		uses := map[string]string{}
		for _, n := range names {
			c, err := CheckName(n)
			if err != nil {
				return nil, fmt.Errorf("special-use folder: %w", err)
			}
			if err := u.makeFolder(c); err != nil && !errors.Is(err, ErrExists) {
				return nil, err
			}
			if a, ok := specialUse(s.specialUse[n]); ok {
				uses[c] = a
			}
		}
		if err := u.writeSpecialUse(uses); err != nil {
			return nil, err
		}
	}
	return &User{impl: u}, nil
}

// mkdirs creates dir and its missing parents, owned by the store's owner.
func (u *userImpl) mkdirs(dir string) error {
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := u.mkdirs(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	return u.st.own(dir)
}

func (u *userImpl) close() error { return nil }

// makeFolder creates a Maildir++ folder directory (ErrExists if there).
func (u *userImpl) makeFolder(name string) error {
	dir := folderDir(u.root, name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			if isFolderDir(dir) {
				return fmt.Errorf("%w: %s", ErrExists, name)
			}
		} else {
			return fmt.Errorf("creating %s: %w", name, err)
		}
	}
	if err := u.st.own(dir); err != nil {
		return err
	}
	mf := filepath.Join(dir, "maildirfolder")
	if err := os.WriteFile(mf, nil, 0o600); err != nil {
		return fmt.Errorf("creating %s: %w", name, err)
	}
	u.st.own(mf)
	return Maildir(dir).InitOwned(0o700, u.st.owner)
}

// folders lists the canonical names of the folders on disk (not INBOX).
func (u *userImpl) folders() ([]string, error) {
	ents, err := os.ReadDir(u.root)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", u.root, err)
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if n, ok := nameOfDir(e.Name()); ok {
			out = append(out, n)
		}
	}
	return out, nil
}

func (u *userImpl) list(ctx context.Context) ([]MailboxInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	names, err := u.folders()
	if err != nil {
		return nil, err
	}
	subs, err := u.readSubscriptions()
	if err != nil {
		return nil, err
	}
	uses := u.readSpecialUse()
	exists := map[string]bool{"INBOX": true}
	all := map[string]bool{"INBOX": true}
	for _, n := range names {
		exists[n] = true
		all[n] = true
		for i := strings.LastIndexByte(n, Delimiter); i > 0; i = strings.LastIndexByte(n[:i], Delimiter) {
			all[n[:i]] = true
		}
	}
	out := make([]MailboxInfo, 0, len(all)+len(subs))
	for n := range all {
		out = append(out, MailboxInfo{Name: n, SpecialUse: uses[n], Subscribed: subs[n], NoSelect: !exists[n], NonExistent: !exists[n]})
	}
	// Subscriptions outlive their folders (RFC 9051 §6.3.7).
	for n := range subs {
		if !all[n] {
			out = append(out, MailboxInfo{Name: n, Subscribed: true, NoSelect: true, NonExistent: true})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if isInbox(out[i].Name) != isInbox(out[j].Name) {
			return isInbox(out[i].Name)
		}
		return out[i].Name < out[j].Name
	})
	for i := range out {
		p := out[i].Name + string(Delimiter)
		for j := range out {
			if all[out[j].Name] && strings.HasPrefix(out[j].Name, p) {
				out[i].HasChildren = true
				break
			}
		}
	}
	return out, nil
}

func (u *userImpl) create(ctx context.Context, name, use string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := CheckName(name)
	if err != nil {
		return err
	}
	if isInbox(c) {
		return fmt.Errorf("%w: INBOX", ErrExists)
	}
	attr := ""
	if use != "" {
		a, ok := specialUse(use)
		if !ok {
			return fmt.Errorf("%w: %s", ErrBadUse, use)
		}
		attr = a
	}
	if err := u.makeFolder(c); err != nil {
		return err
	}
	if attr == "" {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	uses := u.readSpecialUse()
	uses[c] = attr
	return u.writeSpecialUse(uses)
}

func (u *userImpl) delete(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := CheckName(name)
	if err != nil {
		return err
	}
	if isInbox(c) {
		return ErrInboxOnly
	}
	dir := folderDir(u.root, c)
	if !isFolderDir(dir) {
		names, err := u.folders()
		if err != nil {
			return err
		}
		for _, n := range names {
			if strings.HasPrefix(n, c+string(Delimiter)) {
				return fmt.Errorf("%w: %s", ErrHasChildren, c)
			}
		}
		return fmt.Errorf("%w: %s", ErrNoMailbox, c)
	}
	// Rename first so that the folder disappears at once, as Dovecot does.
	trash := filepath.Join(u.root, deletedPrefix+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err := os.Rename(dir, trash); err != nil {
		return fmt.Errorf("deleting %s: %w", c, err)
	}
	u.st.forget(dir)
	if err := os.RemoveAll(trash); err != nil {
		u.st.log.Warn("deleted mailbox not removed", "path", trash, "error", err)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	uses := u.readSpecialUse()
	if _, ok := uses[c]; ok {
		delete(uses, c)
		return u.writeSpecialUse(uses)
	}
	return nil
}

func (u *userImpl) rename(ctx context.Context, oldName, newName string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o, err := CheckName(oldName)
	if err != nil {
		return err
	}
	n, err := CheckName(newName)
	if err != nil {
		return err
	}
	if isInbox(n) || isFolderDir(folderDir(u.root, n)) {
		return fmt.Errorf("%w: %s", ErrExists, n)
	}
	if isInbox(o) {
		return u.renameInbox(ctx, n)
	}
	names, err := u.folders()
	if err != nil {
		return err
	}
	// The folder itself (if it exists) and its children.
	type pair struct{ from, to string }
	var pairs []pair
	existing := map[string]bool{}
	for _, x := range names {
		existing[x] = true
	}
	for _, x := range names {
		if x == o || strings.HasPrefix(x, o+string(Delimiter)) {
			to := n + x[len(o):]
			if _, err := CheckName(to); err != nil {
				return err
			}
			if existing[to] {
				return fmt.Errorf("%w: %s", ErrExists, to)
			}
			pairs = append(pairs, pair{x, to})
		}
	}
	if len(pairs) == 0 {
		return fmt.Errorf("%w: %s", ErrNoMailbox, o)
	}
	for _, p := range pairs {
		from := folderDir(u.root, p.from)
		if err := os.Rename(from, folderDir(u.root, p.to)); err != nil {
			return fmt.Errorf("renaming %s to %s: %w", p.from, p.to, err)
		}
		u.st.forget(from)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	uses := u.readSpecialUse()
	moved := false
	for _, p := range pairs {
		if a, ok := uses[p.from]; ok {
			delete(uses, p.from)
			uses[p.to] = a
			moved = true
		}
	}
	if moved {
		return u.writeSpecialUse(uses)
	}
	return nil
}

// renameInbox moves INBOX's messages into a new folder and leaves INBOX
// empty (RFC 9051 §6.3.6); its sub-folders stay.
func (u *userImpl) renameInbox(ctx context.Context, n string) error {
	if err := u.makeFolder(n); err != nil {
		return err
	}
	dst := folderDir(u.root, n)
	f := u.st.acquire(u.root, u.root)
	defer u.st.release(f)
	f.mu.Lock()
	defer f.mu.Unlock()
	unlock, err := f.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	for _, sub := range []string{"new", "cur"} {
		names, err := readNames(filepath.Join(u.root, sub))
		if err != nil {
			return err
		}
		for _, name := range names {
			if err := os.Rename(filepath.Join(u.root, sub, name), filepath.Join(dst, sub, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("renaming INBOX: %w", err)
			}
		}
		if err := durable.SyncDir(filepath.Join(dst, sub)); err != nil {
			return fmt.Errorf("renaming INBOX: %w", err)
		}
	}
	if kw, err := os.ReadFile(filepath.Join(u.root, keywordsFile)); err == nil {
		os.WriteFile(filepath.Join(dst, keywordsFile), kw, 0o600)
		u.st.own(filepath.Join(dst, keywordsFile))
	}
	f.wake(nil)
	return nil
}

func (u *userImpl) status(ctx context.Context, name string) (Status, error) {
	c, err := CheckName(name)
	if err != nil {
		return Status{}, err
	}
	dir := folderDir(u.root, c)
	if !isFolderDir(dir) {
		return Status{}, fmt.Errorf("%w: %s", ErrNoMailbox, c)
	}
	f := u.st.acquire(u.root, dir)
	defer u.st.release(f)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.refresh(ctx, false); err != nil {
		return Status{}, err
	}
	return statusOf(f.published(), f.ix.uidValidity, f.ix.uidNext, f.ix.highestModSeq), nil
}

func (u *userImpl) open(ctx context.Context, name string) (*Mailbox, error) {
	c, err := CheckName(name)
	if err != nil {
		return nil, err
	}
	dir := folderDir(u.root, c)
	if !isFolderDir(dir) {
		return nil, fmt.Errorf("%w: %s", ErrNoMailbox, c)
	}
	f := u.st.acquire(u.root, dir)
	f.mu.Lock()
	if err := f.refresh(ctx, false); err != nil {
		f.mu.Unlock()
		u.st.release(f)
		return nil, err
	}
	v := &mailboxImpl{name: c, updates: make(chan struct{}, 1), f: f, u: u}
	v.take()
	f.views[v] = struct{}{}
	f.mu.Unlock()
	return &Mailbox{impl: v}, nil
}

// ---- subscriptions (Dovecot's format) ----

// The subscriptions file as Dovecot 2.3 writes it: "V\t2\n\n", then one
// name per line with the levels separated by TAB. Files without the
// header (version 1, Courier) hold names with '.' as separator, optionally
// below "INBOX.".
const subsHeader = "V\t2\n\n"

func (u *userImpl) readSubscriptions() (map[string]bool, error) {
	b, err := os.ReadFile(filepath.Join(u.root, subscriptionsFile))
	out := map[string]bool{}
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading subscriptions: %w", err)
	}
	s := string(b)
	v2 := strings.HasPrefix(s, subsHeader)
	if v2 {
		s = s[len(subsHeader):]
	}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := sc.Text()
		if v2 {
			line = strings.ReplaceAll(line, "\t", string(Delimiter))
		} else {
			line = strings.ReplaceAll(strings.TrimPrefix(line, "INBOX."), ".", string(Delimiter))
		}
		if c, err := CheckName(line); err == nil {
			out[c] = true
		}
	}
	return out, nil
}

func (u *userImpl) subscribe(ctx context.Context, name string, on bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := CheckName(name)
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	subs, err := u.readSubscriptions()
	if err != nil {
		return err
	}
	if subs[c] == on {
		return nil
	}
	if on {
		subs[c] = true
	} else {
		delete(subs, c)
	}
	names := make([]string, 0, len(subs))
	for n := range subs {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(subsHeader)
	for _, n := range names {
		b.WriteString(strings.ReplaceAll(n, string(Delimiter), "\t"))
		b.WriteByte('\n')
	}
	return u.replaceFile(subscriptionsFile, b.String())
}

// replaceFile writes a small file of the root atomically.
func (u *userImpl) replaceFile(name, content string) error {
	path := filepath.Join(u.root, name)
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	if err := writeFileSync(tmp, []byte(content)); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	u.st.own(tmp)
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

// ---- special-use attributes ----

// The special-use file holds "ATTRIBUTE NAME" lines (`\Sent Sent`).
func (u *userImpl) readSpecialUse() map[string]string {
	out := map[string]string{}
	b, err := os.ReadFile(filepath.Join(u.root, specialUseFile))
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		a, n, ok := strings.Cut(line, " ")
		attr, known := specialUse(a)
		if c, err := CheckName(n); ok && known && err == nil {
			out[c] = attr
		}
	}
	return out
}

func (u *userImpl) writeSpecialUse(uses map[string]string) error {
	names := make([]string, 0, len(uses))
	for n := range uses {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(uses[n] + " " + n + "\n")
	}
	return u.replaceFile(specialUseFile, b.String())
}

// ---- append ----

func (u *userImpl) appendMsg(ctx context.Context, name string, content io.Reader, flags []string, date time.Time) (uint32, uint32, error) {
	c, err := CheckName(name)
	if err != nil {
		return 0, 0, err
	}
	dir := folderDir(u.root, c)
	if !isFolderDir(dir) {
		return 0, 0, fmt.Errorf("%w: %s", ErrNoMailbox, c)
	}
	tmp, psize, vsize, err := u.st.writeTmp(dir, content)
	if err != nil {
		return 0, 0, err
	}
	defer os.Remove(tmp) // a no-op once renamed
	if err := u.checkQuota(ctx, 1, psize); err != nil {
		return 0, 0, err
	}
	if date.IsZero() {
		date = time.Now()
	}
	if err := os.Chtimes(tmp, date, date); err != nil {
		return 0, 0, fmt.Errorf("appending to %s: %w", c, err)
	}
	f := u.st.acquire(u.root, dir)
	defer u.st.release(f)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.refresh(ctx, false); err != nil {
		return 0, 0, err
	}
	unlock, err := f.lockCurrent(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer unlock()
	sys, kw := f.resolveFlags(flags)
	base := u.st.writer.uniqueName(psize) + ",W=" + strconv.FormatInt(vsize, 10)
	e := entry{uid: f.ix.uidNext, modseq: f.ix.highestModSeq + 1, vsize: vsize, psize: psize,
		date: date.Unix(), sys: sys, kw: kw, name: base + infoSep + formatInfo(sys, kw)}
	if err := os.Rename(tmp, f.path("cur", e.name)); err != nil {
		return 0, 0, fmt.Errorf("appending to %s: %w", c, err)
	}
	if err := durable.SyncDir(f.path("cur")); err != nil {
		return 0, 0, fmt.Errorf("appending to %s: %w", c, err)
	}
	f.ix.entries = append(f.ix.entries, e)
	f.ix.uidNext++
	f.ix.highestModSeq = e.modseq
	if err := f.writeIndex(); err != nil {
		return 0, 0, err
	}
	f.wake(nil)
	return f.ix.uidValidity, e.uid, nil
}

// writeTmp writes content into tmp/ of dir with LF line endings (a CR
// before LF is dropped, other CRs kept), fsynced, and returns its path,
// its size and its size with CRLF.
func (s *storeImpl) writeTmp(dir string, content io.Reader) (string, int64, int64, error) {
	path := filepath.Join(dir, "tmp", s.writer.uniqueName(0)+".append")
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", 0, 0, fmt.Errorf("appending: %w", err)
	}
	fail := func(err error) (string, int64, int64, error) {
		fh.Close()
		os.Remove(path)
		return "", 0, 0, fmt.Errorf("appending: %w", err)
	}
	if s.owner != nil {
		if err := fh.Chown(s.owner.UID, s.owner.GID); err != nil {
			return fail(err)
		}
	}
	w := bufio.NewWriterSize(fh, 64*1024)
	r := bufio.NewReaderSize(content, 64*1024)
	var psize, vsize int64
	var prev byte // last byte written
	pendingCR := false
	put := func(b byte) {
		w.WriteByte(b)
		psize++
		vsize++
		if b == '\n' && prev != '\r' {
			vsize++
		}
		prev = b
	}
	for {
		b, err := r.ReadByte()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(err)
		}
		if pendingCR {
			pendingCR = false
			if b != '\n' {
				put('\r')
			}
		}
		if b == '\r' {
			pendingCR = true
			continue
		}
		put(b)
	}
	if pendingCR {
		put('\r')
	}
	if err := w.Flush(); err != nil {
		return fail(err)
	}
	if err := fh.Sync(); err != nil {
		return fail(err)
	}
	if err := fh.Close(); err != nil {
		os.Remove(path)
		return "", 0, 0, fmt.Errorf("appending: %w", err)
	}
	return path, psize, vsize, nil
}
