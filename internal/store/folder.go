package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"mailhorn/internal/durable"
)

const (
	indexFile    = "mailhorn.index"
	lockFile     = "mailhorn.index.lock"
	keywordsFile = "dovecot-keywords"
	// dirtyWindow: a directory whose mtime is this recent may change again
	// without its mtime changing (coarse timestamps), so it is rescanned.
	dirtyWindow = 2 * time.Second
)

// folder is the state of one Maildir folder shared by every view of this
// process (the Store keeps one per path, reference-counted).
type folder struct {
	st   *storeImpl
	root string // the user's tree (INBOX)
	dir  string

	refs int // under st.mu

	mu     sync.Mutex
	loaded bool
	gone   bool
	ix     *index
	diskID fileID // the index file as last read or written
	pub    []Message
	views  map[*mailboxImpl]struct{}
	cache  cacheStore
}

// fileID tells whether a file was replaced or changed since it was read.
type fileID struct {
	ino, size, mtime int64
}

func statID(path string) (fileID, error) {
	st, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	id := fileID{size: st.Size(), mtime: st.ModTime().UnixNano()}
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		id.ino = int64(s.Ino)
	}
	return id, nil
}

func (f *folder) path(parts ...string) string {
	return filepath.Join(append([]string{f.dir}, parts...)...)
}

// lock takes the index lock against other processes (flock), waiting
// while ctx allows.
func (f *folder) lock(ctx context.Context) (func(), error) {
	lf, err := os.OpenFile(f.path(lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ErrNoMailbox
		}
		return nil, fmt.Errorf("locking %s: %w", f.dir, err)
	}
	f.st.own(lf.Name())
	for {
		err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { lf.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			lf.Close()
			return nil, fmt.Errorf("locking %s: %w", f.dir, err)
		}
		select {
		case <-ctx.Done():
			lf.Close()
			return nil, fmt.Errorf("locking %s: %w", f.dir, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// readIndex loads the index file if it changed on disk since we read or
// wrote it. A missing or damaged file leaves what could be recovered in
// f.ix and returns true: the caller (holding the lock) must rescan.
func (f *folder) readIndex() (rebuild bool, err error) {
	id, err := statID(f.path(indexFile))
	if errors.Is(err, fs.ErrNotExist) {
		if f.loaded {
			// Deleted under us: what we hold is the best knowledge.
			if f.diskID != (fileID{ino: -1}) {
				f.st.log.Warn("mailbox index missing, rewriting it", "maildir", f.dir)
			}
			f.diskID = fileID{ino: -1}
			return true, nil
		}
		f.recover(nil, errIndexHeader)
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading index of %s: %w", f.dir, err)
	}
	if f.loaded && id == f.diskID {
		return false, nil
	}
	b, err := os.ReadFile(f.path(indexFile))
	if err != nil {
		return false, fmt.Errorf("reading index of %s: %w", f.dir, err)
	}
	ix, derr := decodeIndex(b)
	f.diskID = id
	if derr != nil {
		f.st.log.Warn("mailbox index damaged, rebuilding", "maildir", f.dir, "error", derr)
		if f.loaded {
			f.diskID = fileID{ino: -1} // keep ours, write it back
			return true, nil
		}
		f.recover(ix, derr)
		return true, nil
	}
	if f.loaded && f.ix.uidValidity != ix.uidValidity {
		f.cache = cacheStore{}
	}
	f.ix, f.loaded, f.pub = ix, true, nil
	return false, nil
}

// recover sets up f.ix for a rebuild from what a damaged index kept: with
// its header, UIDVALIDITY and the valid entries stay; without, a new
// UIDVALIDITY and no entries (every file gets a new UID in name order).
func (f *folder) recover(ix *index, err error) {
	if errors.Is(err, errIndexHeader) || ix == nil {
		ix = &index{uidValidity: f.newUIDValidity(), uidNext: 1, highestModSeq: 1}
		f.cache = cacheStore{}
	}
	if ix.keywords == nil {
		ix.keywords = readKeywordsFile(f.path(keywordsFile))
		ix.entries = nil // entries' keyword ids refer to the lost table
	}
	ix.newMtime, ix.curMtime = 0, 0
	f.ix, f.loaded, f.pub = ix, true, nil
	f.diskID = fileID{ino: -1} // differs from any file: write it back
}

// writeIndex replaces the index file: temp file, fsync, rename, directory
// fsync. The caller holds the lock.
func (f *folder) writeIndex() error {
	tmp := f.path(indexFile + ".tmp")
	if err := writeFileSync(tmp, f.ix.encode()); err != nil {
		return fmt.Errorf("writing index of %s: %w", f.dir, err)
	}
	f.st.own(tmp)
	if err := os.Rename(tmp, f.path(indexFile)); err != nil {
		return fmt.Errorf("writing index of %s: %w", f.dir, err)
	}
	if err := durable.SyncDir(f.dir); err != nil {
		return fmt.Errorf("writing index of %s: %w", f.dir, err)
	}
	id, err := statID(f.path(indexFile))
	if err != nil {
		return fmt.Errorf("writing index of %s: %w", f.dir, err)
	}
	f.diskID = id
	f.pub = nil
	return f.writeKeywords()
}

func writeFileSync(path string, b []byte) error {
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := fh.Write(b); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

// dovecot-keywords: "ID NAME" lines for the keywords with a letter.
func readKeywordsFile(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return []string{}
	}
	var kws [maxLetterKeywords]string
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		id, name, ok := strings.Cut(line, " ")
		i, err := strconv.Atoi(id)
		if !ok || err != nil || i < 0 || i >= maxLetterKeywords || !validKeyword(name) {
			continue
		}
		kws[i] = name
		n = max(n, i+1)
	}
	out := []string{}
	for i := 0; i < n && kws[i] != ""; i++ { // a gap ends the usable letters
		out = append(out, kws[i])
	}
	return out
}

func (f *folder) writeKeywords() error {
	var b strings.Builder
	for i, k := range f.ix.keywords {
		if i >= maxLetterKeywords {
			break
		}
		fmt.Fprintf(&b, "%d %s\n", i, k)
	}
	path := f.path(keywordsFile)
	if old, err := os.ReadFile(path); err == nil && string(old) == b.String() || err != nil && b.Len() == 0 {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("writing keywords of %s: %w", f.dir, err)
	}
	f.st.own(tmp)
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing keywords of %s: %w", f.dir, err)
	}
	return nil
}

func dirMtime(path string) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.ModTime().UnixNano(), nil
}

// refresh brings f.ix up to date with the index file and the directories
// (f.mu held). force rescans even when the directories look unchanged.
func (f *folder) refresh(ctx context.Context, force bool) error {
	if f.gone {
		return ErrNoMailbox
	}
	rebuild, err := f.readIndex()
	if err != nil {
		return err
	}
	newM, err1 := dirMtime(f.path("new"))
	curM, err2 := dirMtime(f.path("cur"))
	if err1 != nil || err2 != nil {
		if errors.Is(err1, fs.ErrNotExist) || errors.Is(err2, fs.ErrNotExist) {
			return ErrNoMailbox
		}
		return fmt.Errorf("reading %s: %w", f.dir, errors.Join(err1, err2))
	}
	recent := time.Now().Add(-dirtyWindow).UnixNano()
	if !rebuild && !force && newM == f.ix.newMtime && curM == f.ix.curMtime && newM < recent && curM < recent {
		return nil
	}
	unlock, err := f.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := f.readIndex(); err != nil { // another process may have written it
		return err
	}
	return f.scan(newM, curM)
}

// scan lists new/ and cur/ and applies what changed (lock held): files in
// new/ move to cur/, new files get UIDs in name order, files gone are
// expunged, flags changed in names get a new MODSEQ. newM and curM are
// the directories' mtimes taken before listing.
func (f *folder) scan(newM, curM int64) error {
	ix := f.ix
	// changed: a new MODSEQ; write: the index file must be rewritten
	// (also for a new name or new mtimes, so that the next process does
	// not rescan).
	changed := false
	write := f.diskID.ino == -1 || newM != ix.newMtime || curM != ix.curMtime
	newFiles, err := readNames(f.path("new"))
	if err != nil {
		return err
	}
	for _, n := range newFiles {
		dst := n
		if !strings.Contains(n, ":") {
			dst = n + infoSep
		}
		if err := os.Rename(f.path("new", n), f.path("cur", dst)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("moving %s to cur/: %w", n, err)
		}
	}
	curFiles, err := readNames(f.path("cur"))
	if err != nil {
		return err
	}
	byBase := make(map[string]string, len(curFiles))
	for _, n := range curFiles {
		b, _ := splitName(n)
		if _, dup := byBase[b]; !dup {
			byBase[b] = n
		}
	}
	modseq := ix.highestModSeq + 1
	kept := ix.entries[:0]
	expunged := false
	for _, e := range ix.entries {
		base, _ := splitName(e.name)
		full, ok := byBase[base]
		if !ok {
			expunged = true
			if f.cache.loaded {
				f.cache.drop(e.uid)
			}
			continue
		}
		delete(byBase, base)
		if full != e.name {
			_, info := splitName(full)
			sys, kw := parseInfo(info, min(len(ix.keywords), maxLetterKeywords))
			for _, id := range e.kw {
				if id >= maxLetterKeywords {
					kw = append(kw, id) // index-only keywords stay
				}
			}
			if sys != e.sys || !equalKW(kw, e.kw) {
				e.sys, e.kw, e.modseq = sys, kw, modseq
				changed = true
			}
			e.name = full
			write = true
		}
		kept = append(kept, e)
	}
	ix.entries = kept
	if expunged {
		changed = true
	}
	// New files, in name order (names start with the delivery time).
	var added []string
	for _, full := range byBase {
		added = append(added, full)
	}
	sort.Strings(added)
	for _, full := range added {
		e, err := f.newEntry(full)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		e.uid, e.modseq = ix.uidNext, modseq
		ix.uidNext++
		ix.entries = append(ix.entries, e)
		changed = true
	}
	if changed {
		ix.highestModSeq = modseq
	}
	ix.newMtime, ix.curMtime = newM, curM
	if !changed && !write {
		return nil
	}
	f.pub = nil
	return f.writeIndex()
}

// newEntry describes a file of cur/ not in the index yet.
func (f *folder) newEntry(full string) (entry, error) {
	path := f.path("cur", full)
	st, err := os.Stat(path)
	if err != nil {
		return entry{}, err
	}
	base, info := splitName(full)
	sys, kw := parseInfo(info, min(len(f.ix.keywords), maxLetterKeywords))
	e := entry{name: full, sys: sys, kw: kw, psize: st.Size(), date: st.ModTime().Unix()}
	if s, w := sizesFromName(base); w >= 0 && (s < 0 || s == st.Size()) {
		e.vsize = w
	} else if e.vsize, err = fileCRLFSize(path); err != nil {
		return entry{}, fmt.Errorf("reading %s: %w", path, err)
	}
	return e, nil
}

func equalKW(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	sort.Slice(a, func(i, j int) bool { return a[i] < a[j] })
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// readNames lists the message files of a directory (not hidden ones).
func readNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ErrNoMailbox
		}
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	out := names[:0]
	for _, n := range names {
		if n != "" && n[0] != '.' {
			out = append(out, n)
		}
	}
	return out, nil
}

// published is the folder's message list as views see it, shared and
// never modified (rebuilt after each change).
func (f *folder) published() []Message {
	if f.pub != nil {
		return f.pub
	}
	intern := map[string][]string{}
	key := make([]byte, 0, 16)
	pub := make([]Message, len(f.ix.entries))
	for i := range f.ix.entries {
		e := &f.ix.entries[i]
		key = append(key[:0], e.sys)
		for _, k := range e.kw {
			key = append(key, byte(k), byte(k>>8))
		}
		fl, ok := intern[string(key)]
		if !ok {
			fl = f.flagNames(e.sys, e.kw)
			intern[string(key)] = fl
		}
		pub[i] = Message{UID: e.uid, Flags: fl, ModSeq: e.modseq, Size: e.vsize, InternalDate: time.Unix(e.date, 0)}
	}
	f.pub = pub
	return pub
}

func (f *folder) flagNames(sys uint8, kw []uint16) []string {
	fl := []string{}
	for _, s := range sysFlags {
		if sys&s.bit != 0 && s.name != "" {
			fl = append(fl, s.name)
		}
	}
	for _, id := range kw {
		fl = append(fl, f.ix.keywords[id])
	}
	sort.Strings(fl)
	return fl
}

// resolveFlags turns IMAP flag names into bits and keyword ids, adding
// keywords to the folder's table. \Recent and unknown system flags are
// ignored; invalid keywords too.
func (f *folder) resolveFlags(names []string) (sys uint8, kw []uint16) {
	for _, n := range names {
		if strings.HasPrefix(n, `\`) {
			if b, ok := systemFlagBit(n); ok {
				sys |= b
			}
			continue
		}
		if !validKeyword(n) {
			continue
		}
		id := -1
		for i, k := range f.ix.keywords {
			if strings.EqualFold(k, n) {
				id = i
				break
			}
		}
		if id < 0 {
			if len(f.ix.keywords) >= maxKeywords {
				continue
			}
			id = len(f.ix.keywords)
			f.ix.keywords = append(f.ix.keywords, n)
		}
		if !hasKW(kw, uint16(id)) {
			kw = append(kw, uint16(id))
		}
	}
	sort.Slice(kw, func(i, j int) bool { return kw[i] < kw[j] })
	return sys, kw
}

// status computes a mailbox's STATUS data from a message list.
func statusOf(msgs []Message, uidv, uidNext uint32, hms uint64) Status {
	s := Status{UIDValidity: uidv, UIDNext: uidNext, Messages: uint32(len(msgs)), HighestModSeq: hms}
	for i := range msgs {
		m := &msgs[i]
		s.Size += m.Size
		seen, del := false, false
		for _, fl := range m.Flags {
			switch fl {
			case FlagSeen:
				seen = true
			case FlagDeleted:
				del = true
			}
		}
		if !seen {
			s.Unseen++
			if s.FirstUnseen == 0 {
				s.FirstUnseen = uint32(i + 1)
			}
		}
		if del {
			s.Deleted++
		}
	}
	return s
}

// wake signals every view but except.
func (f *folder) wake(except *mailboxImpl) {
	for v := range f.views {
		if v != except {
			select {
			case v.updates <- struct{}{}:
			default:
			}
		}
	}
}

// renameFlags renames the file of e for new flags (lock held); a file
// renamed meanwhile by another program is found by a rescan.
func (f *folder) renameFlags(e *entry, sys uint8, kw []uint16) error {
	base, _ := splitName(e.name)
	name := base + infoSep + formatInfo(sys, kw)
	if name == e.name {
		return nil
	}
	if err := os.Rename(f.path("cur", e.name), f.path("cur", name)); err != nil {
		return err
	}
	e.name = name
	return nil
}

// uidValidityFile in the user's root holds the last UIDVALIDITY given to
// any folder of the tree (Dovecot keeps dovecot-uidvalidity for the same
// reason): a folder created or rebuilt twice in one second still gets a
// new value, so that old UIDs are never taken for new ones.
const uidValidityFile = "mailhorn-uidvalidity"

// newUIDValidity returns a value above every one the tree gave out (the
// caller holds the folder's lock; two folders of a tree racing here may
// share a value, which IMAP allows between mailboxes).
func (f *folder) newUIDValidity() uint32 {
	uidv := uint32(time.Now().Unix())
	path := filepath.Join(f.root, uidValidityFile)
	if b, err := os.ReadFile(path); err == nil {
		if last, err := strconv.ParseUint(strings.TrimSpace(string(b)), 16, 32); err == nil && uint32(last) >= uidv {
			uidv = uint32(last) + 1
		}
	}
	if f.ix != nil && f.ix.uidValidity >= uidv {
		uidv = f.ix.uidValidity + 1
	}
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	if err := writeFileSync(tmp, []byte(strconv.FormatUint(uint64(uidv), 16)+"\n")); err == nil {
		f.st.own(tmp)
		os.Rename(tmp, path)
	}
	return uidv
}
