package store

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"mailhorn/internal/durable"
)

const (
	indexFile = "mailhorn.index"
	lockFile  = "mailhorn.index.lock"
	// syncedFile is a hard link to the last index written with fsync:
	// what a rebuild starts from when a crash damaged an index written
	// without (see writeIndex).
	syncedFile   = "mailhorn.index.synced"
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

	// Reused by scan: the listing, and the entries by base name.
	list   dirList
	byBase map[string]int
	seen   []bool
	scans  int // listings made, for tests

	pathBuf []byte // openMsg's path of a message file, NUL-terminated
	nameBuf []byte // renameFlags' names, NUL-terminated
	synced  bool   // syncedFile exists (see writeIndexSync)
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
		if sx := f.readSynced(); sx != nil {
			f.recover(sx, nil)
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
		if sx := f.readSynced(); sx != nil && (ix == nil || errors.Is(derr, errIndexHeader) || sx.uidValidity == ix.uidValidity) {
			f.recover(sx, nil)
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
	ix.newMtime, ix.curMtime, ix.newCheck, ix.curCheck = 0, 0, 0, 0
	f.ix, f.loaded, f.pub = ix, true, nil
	f.diskID = fileID{ino: -1} // differs from any file: write it back
}

// readSynced reads the index copy of the last durable write (nil when
// missing or damaged).
func (f *folder) readSynced() *index {
	b, err := os.ReadFile(f.path(syncedFile))
	if err != nil {
		return nil
	}
	ix, err := decodeIndex(b)
	if err != nil {
		return nil
	}
	f.st.log.Warn("mailbox index lost, rebuilding from its last synced copy", "maildir", f.dir)
	return ix
}

// writeIndex replaces the index file: temp file, fsync, rename, a hard
// link syncedFile to it, directory fsync. The caller holds the lock.
func (f *folder) writeIndex() error { return f.writeIndexSync(true) }

// writeIndexSync is writeIndex; with sync false (STORE changing flags and
// nothing else), the file is renamed into place without any fsync, as
// Dovecot's mail_fsync=optimized leaves flag changes: the flags are in
// the file names, which are the truth after a crash; the index written
// then may be lost or damaged, and the rebuild starts from syncedFile, a
// complete index with every UID (it is only replaced by a synced write,
// and every change of UIDs, UIDVALIDITY or keywords is one).
func (f *folder) writeIndexSync(sync bool) error {
	if !sync && !f.synced {
		_, err := os.Lstat(f.path(syncedFile))
		f.synced = err == nil
		sync = !f.synced // none yet (an index of an older version): make it
	}
	tmp := f.path(indexFile + ".tmp")
	b := f.ix.encode()
	var err error
	if sync {
		err = writeFileSync(tmp, b)
	} else {
		err = os.WriteFile(tmp, b, 0o600)
	}
	if err != nil {
		return fmt.Errorf("writing index of %s: %w", f.dir, err)
	}
	f.st.own(tmp)
	if err := os.Rename(tmp, f.path(indexFile)); err != nil {
		return fmt.Errorf("writing index of %s: %w", f.dir, err)
	}
	if sync {
		stmp := f.path(syncedFile + ".tmp")
		os.Remove(stmp)
		if err := os.Link(f.path(indexFile), stmp); err != nil {
			return fmt.Errorf("writing index of %s: %w", f.dir, err)
		}
		if err := os.Rename(stmp, f.path(syncedFile)); err != nil {
			return fmt.Errorf("writing index of %s: %w", f.dir, err)
		}
		if err := durable.SyncDir(f.dir); err != nil {
			return fmt.Errorf("writing index of %s: %w", f.dir, err)
		}
		f.synced = true
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

// settled tells whether a directory listed at check (Unix ns, the time
// the listing began) is known whole while its mtime stays mtime: a change
// made in the same timestamp tick as the last one leaves the mtime as it
// was, so only a listing made dirtyWindow after the mtime sees them all
// (Dovecot's "dirty" directories).
func settled(mtime, check int64) bool { return check-mtime >= int64(dirtyWindow) }

// upToDate tells whether f.ix describes new/ and cur/ with these mtimes
// without listing them again. As Dovecot: new/ (cheap, and where mail
// arrives) is listed again while its mtime is recent; cur/ (every
// message) only when its mtime changed, or once the dirty window after
// an unsettled listing has passed (a change by another program in the
// same timestamp tick as the last one is seen up to dirtyWindow late).
func (f *folder) upToDate(newM, curM, now int64) bool {
	ix := f.ix
	return newM == ix.newMtime && settled(ix.newMtime, ix.newCheck) && f.curKnown(curM, now)
}

// curKnown tells whether the index holds cur/ as it is with mtime curM.
func (f *folder) curKnown(curM, now int64) bool {
	ix := f.ix
	return curM == ix.curMtime && (settled(ix.curMtime, ix.curCheck) || now-ix.curCheck < int64(dirtyWindow))
}

// refresh brings f.ix up to date with the index file and the directories
// (f.mu held). force lists both directories even when they look
// unchanged.
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
	if !rebuild && !force && f.upToDate(newM, curM, time.Now().UnixNano()) {
		return nil
	}
	unlock, err := f.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	rebuild2, err := f.readIndex() // another process may have written it
	if err != nil {
		return err
	}
	return f.scan(newM, curM, rebuild || rebuild2 || force)
}

// scan lists new/ and, when needed (full, or cur/ not known as it is),
// cur/, and applies what changed (lock held): files in new/ move to cur/,
// new files get UIDs in name order, files gone are expunged, flags
// changed in names get a new MODSEQ. newM and curM are the directories'
// mtimes taken before listing.
func (f *folder) scan(newM, curM int64, full bool) error {
	ix := f.ix
	check := time.Now().UnixNano()
	listCur := full || f.diskID.ino == -1 || !f.curKnown(curM, check)
	if err := f.list.read(f.path("new")); err != nil {
		return err
	}
	var added []string // in cur/, not in the index
	for i := range f.list.len() {
		n := string(f.list.name(i))
		dst := n
		if !strings.Contains(n, ":") {
			dst = n + infoSep
		}
		if err := os.Rename(f.path("new", n), f.path("cur", dst)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("moving %s to cur/: %w", n, err)
		}
		added = append(added, dst)
	}
	curCheck := ix.curCheck
	if len(added) > 0 {
		// The moves changed both mtimes: take them again. Unless cur/ is
		// listed below, it holds what the index knew plus the files
		// moved: an unsettled listing, made again later.
		var err1, err2 error
		newM, err1 = dirMtime(f.path("new"))
		curM, err2 = dirMtime(f.path("cur"))
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("reading %s: %w", f.dir, err)
		}
		curCheck = check
	}
	// changed: a new MODSEQ; write: the index file must be rewritten
	// (also for a new name or new mtimes, so that the next process does
	// not list again).
	changed := false
	write := f.diskID.ino == -1 || newM != ix.newMtime || curM != ix.curMtime ||
		settled(newM, check) != settled(ix.newMtime, ix.newCheck)
	modseq := ix.highestModSeq + 1
	if listCur {
		f.scans++
		curCheck = check
		if err := f.list.read(f.path("cur")); err != nil {
			return err
		}
		var names bool
		changed, names, added = f.matchCur(modseq)
		write = write || names
	}
	write = write || settled(curM, curCheck) != settled(ix.curMtime, ix.curCheck)
	// New files in delivery order: names start with the delivery time.
	slices.SortFunc(added, deliveryOrder)
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
	ix.newCheck, ix.curCheck = check, curCheck
	if !changed && !write {
		return nil
	}
	f.pub = nil
	return f.writeIndex()
}

// matchCur matches the listing of cur/ in f.list to the entries by base
// name (lock held): entries whose file is gone are dropped, changed names
// give new flags (with modseq when they differ); it returns whether
// entries changed, whether names did, and the files not in the index.
// The map of the entries (keys are parts of their names: no copies) is
// kept between scans.
func (f *folder) matchCur(modseq uint64) (changed, names bool, added []string) {
	ix := f.ix
	if f.byBase == nil {
		f.byBase = make(map[string]int, len(ix.entries))
	}
	for i := range ix.entries {
		b, _ := splitName(ix.entries[i].name)
		if _, dup := f.byBase[b]; !dup {
			f.byBase[b] = i
		}
	}
	f.seen = append(f.seen[:0], make([]bool, len(ix.entries))...)
	for k := range f.list.len() {
		full := f.list.name(k)
		i, ok := f.byBase[string(baseOf(full))]
		if !ok {
			added = append(added, string(full))
			continue
		}
		if f.seen[i] {
			continue // a second file with the same base: the first counts
		}
		f.seen[i] = true
		e := &ix.entries[i]
		if string(full) == e.name {
			continue
		}
		name := string(full)
		_, info := splitName(name)
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
		e.name = name
		names = true
	}
	clear(f.byBase)
	kept := ix.entries[:0]
	for i, e := range ix.entries {
		if !f.seen[i] {
			changed = true // expunged
			if f.cache.loaded {
				f.cache.drop(e.uid)
			}
			continue
		}
		kept = append(kept, e)
	}
	clear(ix.entries[len(kept):]) // no names kept alive past the end
	ix.entries = kept
	return changed, names, added
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

// baseOf is splitName's base for a name in a listing.
func baseOf(name []byte) []byte {
	if i := bytes.Index(name, []byte(infoSep)); i >= 0 {
		return name[:i]
	}
	if i := bytes.IndexByte(name, ':'); i >= 0 {
		return name[:i]
	}
	return name
}

func equalKW(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	slices.Sort(a)
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
	slices.Sort(kw)
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

// renameFlags renames the file of e for new flags (lock held); cur is an
// open descriptor of cur/ (see openCur). A file renamed meanwhile by
// another program is found by a rescan. One rename(2) and nothing else:
// os.Rename would first lstat the target, and the name is ours.
func (f *folder) renameFlags(cur int, e *entry, sys uint8, kw []uint16) error {
	base, _ := splitName(e.name)
	// nameBuf: the old name, NUL, the new name, NUL.
	b := append(append(f.nameBuf[:0], e.name...), 0)
	start := len(b)
	b = append(append(b, base...), infoSep...)
	b = appendInfo(b, sys, kw)
	name := b[start:]
	b = append(b, 0)
	f.nameBuf = b
	if string(name) == e.name {
		return nil
	}
	if err := renameAt(cur, b[:start], b[start:]); err != nil {
		return &os.LinkError{Op: "rename", Old: f.path("cur", e.name), New: f.path("cur", string(name)), Err: err}
	}
	e.name = string(name)
	return nil
}

// openCur opens cur/ for renameFlags: names relative to it save the
// kernel a walk of the whole path per message.
func (f *folder) openCur() (int, error) {
	for {
		fd, err := syscall.Open(f.path("cur"), syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return -1, &os.PathError{Op: "open", Path: f.path("cur"), Err: err}
		}
		return fd, nil
	}
}

// ownChanges is what ownChangesBegin saw of cur/ before this process
// changed it.
type ownChanges struct {
	known bool  // cur/ was as the index knew it
	start int64 // when (Unix ns)
}

// ownChangesBegin notes, before this process renames, adds or removes
// files in cur/ (lock held; cur an open descriptor of cur/), whether the
// index knows cur/ as it is.
func (f *folder) ownChangesBegin(cur int) ownChanges {
	start := time.Now().UnixNano()
	var st syscall.Stat_t
	if syscall.Fstat(cur, &st) != nil {
		return ownChanges{}
	}
	return ownChanges{known: st.Mtim.Nano() == f.ix.curMtime, start: start}
}

// ownChangesEnd records cur/'s new mtime after this process's changes,
// when the index knew cur/ before them: the next sync need not list it.
// The record is unsettled (a change by another program meanwhile would
// be hidden), so cur/ is listed once the dirty window has passed.
func (f *folder) ownChangesEnd(cur int, o ownChanges) {
	var st syscall.Stat_t
	if !o.known || syscall.Fstat(cur, &st) != nil {
		return
	}
	if settled(f.ix.curMtime, f.ix.curCheck) {
		f.ix.curCheck = o.start
	}
	f.ix.curMtime = st.Mtim.Nano()
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

// deliveryOrder compares Maildir names by the delivery time they start
// with, "SECONDS.MMICROSECONDS..." read as numbers (as Dovecot does: the
// microseconds are not zero-padded, so "M99999" comes before "M100000"),
// then by the whole name. Names without a time sort by name after those
// with one.
func deliveryOrder(a, b string) int {
	sa, ua, oka := deliveryTime(a)
	sb, ub, okb := deliveryTime(b)
	switch {
	case oka && okb:
		if c := cmp.Compare(sa, sb); c != 0 {
			return c
		}
		if c := cmp.Compare(ua, ub); c != 0 {
			return c
		}
	case oka:
		return -1
	case okb:
		return 1
	}
	return strings.Compare(a, b)
}

// deliveryTime reads "SECONDS." and an optional "MMICROSECONDS" after it.
func deliveryTime(name string) (sec, usec int64, ok bool) {
	i := 0
	for i < len(name) && name[i] >= '0' && name[i] <= '9' {
		sec = sec*10 + int64(name[i]-'0')
		i++
	}
	if i == 0 || i > 18 || i >= len(name) || name[i] != '.' {
		return 0, 0, false
	}
	if i+1 < len(name) && name[i+1] == 'M' {
		for j := i + 2; j < len(name) && j < i+2+9 && name[j] >= '0' && name[j] <= '9'; j++ {
			usec = usec*10 + int64(name[j]-'0')
		}
	}
	return sec, usec, true
}
