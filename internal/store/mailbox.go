package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sort"
	"sync"
	"syscall"

	"mailhorn/internal/durable"
)

// mailboxImpl is one session's view of a folder.
type mailboxImpl struct {
	name    string
	updates chan struct{}
	f       *folder
	u       *userImpl

	mu       sync.Mutex
	msgs     []Message
	uidv     uint32
	uidNext  uint32
	hms      uint64
	keywordL []string
	closed   bool
}

var errClosed = errors.New("mailbox view is closed")

// take adopts the folder's current list (f.mu held).
func (v *mailboxImpl) take() {
	v.msgs = v.f.published()
	v.uidv, v.uidNext, v.hms = v.f.ix.uidValidity, v.f.ix.uidNext, v.f.ix.highestModSeq
	v.keywordL = append([]string(nil), v.f.ix.keywords...)
}

func (v *mailboxImpl) status() Status {
	v.mu.Lock()
	defer v.mu.Unlock()
	return statusOf(v.msgs, v.uidv, v.uidNext, v.hms)
}

func (v *mailboxImpl) messages() []Message {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.msgs
}

func (v *mailboxImpl) keywords() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.keywordL
}

func (v *mailboxImpl) close() error {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return nil
	}
	v.closed = true
	v.mu.Unlock()
	v.f.mu.Lock()
	delete(v.f.views, v)
	v.f.mu.Unlock()
	v.u.st.release(v.f)
	return nil
}

// lockBoth takes the view's and the folder's mutexes (always in that
// order) after checking the view is open.
func (v *mailboxImpl) lockBoth() (func(), error) {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return nil, errClosed
	}
	v.f.mu.Lock()
	return func() { v.f.mu.Unlock(); v.mu.Unlock() }, nil
}

func (v *mailboxImpl) sync(ctx context.Context) (Changes, error) {
	unlock, err := v.lockBoth()
	if err != nil {
		return Changes{}, err
	}
	defer unlock()
	if err := v.f.refresh(ctx, false); err != nil {
		return Changes{}, err
	}
	pub := v.f.published()
	var ch Changes
	// Merge walk: both lists are in UID order.
	old := v.msgs
	var gone []int // positions in old
	i, j := 0, 0
	for i < len(old) {
		switch {
		case j < len(pub) && pub[j].UID == old[i].UID:
			if pub[j].ModSeq != old[i].ModSeq || !equalStrings(pub[j].Flags, old[i].Flags) {
				ch.FlagsChanged = append(ch.FlagsChanged, old[i].UID)
			}
			i++
			j++
		case j < len(pub) && pub[j].UID < old[i].UID:
			j++ // cannot happen: UIDs only grow
		default:
			gone = append(gone, i)
			i++
		}
	}
	// Report from the highest sequence number down: each stays valid.
	for k := len(gone) - 1; k >= 0; k-- {
		ch.Expunged = append(ch.Expunged, uint32(gone[k]+1))
		ch.ExpungedUIDs = append(ch.ExpungedUIDs, old[gone[k]].UID)
	}
	var maxUID uint32
	if len(old) > 0 {
		maxUID = old[len(old)-1].UID
	}
	n := sort.Search(len(pub), func(k int) bool { return pub[k].UID > maxUID })
	ch.New = len(pub) - n
	if len(gone) > 0 || ch.New > 0 || len(ch.FlagsChanged) > 0 || v.hms != v.f.ix.highestModSeq {
		v.take()
	}
	v.uidNext = v.f.ix.uidNext
	return ch, nil
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// find returns the view's message with uid.
func (v *mailboxImpl) find(uid uint32) (int, bool) {
	k := sort.Search(len(v.msgs), func(i int) bool { return v.msgs[i].UID >= uid })
	return k, k < len(v.msgs) && v.msgs[k].UID == uid
}

func (v *mailboxImpl) openMsg(uid uint32) (io.ReadSeekCloser, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil, errClosed
	}
	k, ok := v.find(uid)
	if !ok {
		return nil, ErrNoMessage
	}
	size := v.msgs[k].Size
	f := v.f
	f.mu.Lock()
	defer f.mu.Unlock()
	for try := 0; ; try++ {
		i := f.ix.find(uid)
		if i < 0 {
			return nil, ErrNoMessage
		}
		f.pathBuf = append(append(append(f.pathBuf[:0], f.dir...), "/cur/"...), f.ix.entries[i].name...)
		f.pathBuf = append(f.pathBuf, 0)
		r, err := openCRLF(f.pathBuf, size)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, fs.ErrNotExist) || try > 0 {
			return nil, fmt.Errorf("opening message %d: %w", uid, err)
		}
		// Renamed by another program (new flags): rescan once.
		if err := f.refresh(context.Background(), true); err != nil {
			return nil, err
		}
	}
}

func (v *mailboxImpl) cache(uid uint32, field string) ([]byte, bool) {
	f := v.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.cache.loaded {
		f.cache.load(f.dir, f.ix)
	}
	return f.cache.get(uid, field)
}

func (v *mailboxImpl) setCache(uid uint32, field string, val []byte) {
	f := v.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.cache.loaded {
		f.cache.load(f.dir, f.ix)
	}
	if f.ix.find(uid) < 0 {
		return
	}
	f.cache.set(uid, field, val)
	if len(f.cache.pending) >= cacheFlushAt {
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		f.flushCache(ctx)
		cancel()
	}
}

// patch gives the view's copies of the messages in changed (UIDs) their
// folder state (v.mu and f.mu held): a view sees its own changes at once.
func (v *mailboxImpl) patch(changed []uint32) {
	if len(changed) == 0 {
		return
	}
	slices.Sort(changed)
	pub := v.f.published()
	msgs := append([]Message(nil), v.msgs...)
	// Merge walk: msgs, pub and changed are in UID order.
	j, k := 0, 0
	for i := range msgs {
		u := msgs[i].UID
		for j < len(changed) && changed[j] < u {
			j++
		}
		if j == len(changed) {
			break
		}
		if changed[j] != u {
			continue
		}
		for k < len(pub) && pub[k].UID < u {
			k++
		}
		if k < len(pub) && pub[k].UID == u {
			msgs[i] = pub[k]
		}
	}
	v.msgs = msgs
	v.keywordL = append([]string(nil), v.f.ix.keywords...)
}

func (v *mailboxImpl) store(ctx context.Context, uids []uint32, op FlagOp, flags []string, unchangedSince uint64) ([]uint32, error) {
	unlock, err := v.lockBoth()
	if err != nil {
		return nil, err
	}
	defer unlock()
	f := v.f
	if f.gone {
		return nil, ErrNoMailbox
	}
	lk, err := f.lockCurrent(ctx)
	if err != nil {
		return nil, err
	}
	defer lk()
	nkw := len(f.ix.keywords)
	opSys, opKW := f.resolveFlags(flags)
	modseq := f.ix.highestModSeq + 1
	var changed []uint32 // UIDs, sorted below
	var failed []uint32
	rescanned := false
	cur := -1
	var curState ownChanges
	defer func() {
		if cur >= 0 {
			syscall.Close(cur)
		}
	}()
	for _, uid := range uids {
		if _, ok := v.find(uid); !ok {
			continue
		}
		i := f.ix.find(uid)
		if i < 0 {
			continue // expunged by someone else
		}
		e := &f.ix.entries[i]
		if unchangedSince > 0 && e.modseq > unchangedSince {
			failed = append(failed, uid)
			continue
		}
		sys, kw := applyFlags(e.sys, e.kw, op, opSys, opKW)
		if sys == e.sys && equalKW(kw, e.kw) {
			continue
		}
		if cur < 0 {
			if cur, err = f.openCur(); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return failed, ErrNoMailbox
				}
				return failed, fmt.Errorf("storing flags: %w", err)
			}
			curState = f.ownChangesBegin(cur)
		}
		err := f.renameFlags(cur, e, sys, kw)
		if errors.Is(err, fs.ErrNotExist) && !rescanned {
			rescanned = true
			if err := f.rescanLocked(); err != nil {
				return nil, err
			}
			if i = f.ix.find(uid); i < 0 {
				continue
			}
			e = &f.ix.entries[i]
			sys, kw = applyFlags(e.sys, e.kw, op, opSys, opKW)
			err = f.renameFlags(cur, e, sys, kw)
		}
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return failed, fmt.Errorf("storing flags: %w", err)
		}
		e.sys, e.kw, e.modseq = sys, kw, modseq
		changed = append(changed, uid)
	}
	if cur >= 0 && !rescanned {
		f.ownChangesEnd(cur, curState)
	}
	if len(changed) == 0 && !rescanned && f.diskID.ino != -1 {
		return failed, nil
	}
	if len(changed) > 0 {
		f.ix.highestModSeq = modseq
	}
	// Flags only: no fsync (see writeIndexSync). A rescan may have given
	// UIDs, a new keyword changes the table, a lost index is rewritten:
	// those are synced.
	sync := rescanned || f.diskID.ino == -1 || len(f.ix.keywords) != nkw
	if err := f.writeIndexSync(sync); err != nil {
		return failed, err
	}
	v.patch(changed)
	v.hms = max(v.hms, f.ix.highestModSeq)
	f.wake(v)
	return failed, nil
}

// lockCurrent takes the lock and makes sure f.ix is what the disk holds
// (f.mu held): re-read if another process wrote the index, rescanned if
// it was lost.
func (f *folder) lockCurrent(ctx context.Context) (func(), error) {
	if f.gone {
		return nil, ErrNoMailbox
	}
	unlock, err := f.lock(ctx)
	if err != nil {
		return nil, err
	}
	rebuild, err := f.readIndex()
	if err == nil && rebuild {
		err = f.rescanLocked()
	}
	if err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

// rescanLocked rescans the directories with the lock already held.
func (f *folder) rescanLocked() error {
	newM, err1 := dirMtime(f.path("new"))
	curM, err2 := dirMtime(f.path("cur"))
	if err := errors.Join(err1, err2); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return ErrNoMailbox
		}
		return fmt.Errorf("reading %s: %w", f.dir, err)
	}
	return f.scan(newM, curM, true)
}

func applyFlags(sys uint8, kw []uint16, op FlagOp, opSys uint8, opKW []uint16) (uint8, []uint16) {
	const passed = flagPassed // not an IMAP flag: kept as it is
	switch op {
	case FlagsSet:
		keep := append([]uint16(nil), opKW...)
		return opSys | sys&passed, keep
	case FlagsAdd:
		out := append([]uint16(nil), kw...)
		for _, k := range opKW {
			if !hasKW(out, k) {
				out = append(out, k)
			}
		}
		slices.Sort(out)
		return sys | opSys, out
	default:
		var out []uint16
		for _, k := range kw {
			if !hasKW(opKW, k) {
				out = append(out, k)
			}
		}
		return sys &^ opSys, out
	}
}

// removeFromView drops messages from the view and returns the Changes to
// report, highest sequence number first (v.mu held).
func (v *mailboxImpl) removeFromView(uids map[uint32]bool) Changes {
	var ch Changes
	for i := len(v.msgs) - 1; i >= 0; i-- {
		if uids[v.msgs[i].UID] {
			ch.Expunged = append(ch.Expunged, uint32(i+1))
			ch.ExpungedUIDs = append(ch.ExpungedUIDs, v.msgs[i].UID)
		}
	}
	if len(ch.Expunged) == 0 {
		return ch
	}
	msgs := make([]Message, 0, len(v.msgs)-len(ch.Expunged))
	for _, m := range v.msgs {
		if !uids[m.UID] {
			msgs = append(msgs, m)
		}
	}
	v.msgs = msgs
	return ch
}

// removeEntries unlinks the files of uids and drops their entries (lock
// and f.mu held), with a new HIGHESTMODSEQ, and writes the index.
func (f *folder) removeEntries(uids map[uint32]bool) error {
	kept := f.ix.entries[:0]
	removed := false
	for _, e := range f.ix.entries {
		if !uids[e.uid] {
			kept = append(kept, e)
			continue
		}
		if err := os.Remove(f.path("cur", e.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			f.st.log.Warn("expunged message not removed", "path", f.path("cur", e.name), "error", err)
		}
		if f.cache.loaded {
			f.cache.drop(e.uid)
		}
		removed = true
	}
	f.ix.entries = kept
	if !removed {
		return nil
	}
	f.ix.highestModSeq++
	return f.writeIndex()
}

func (v *mailboxImpl) expunge(ctx context.Context, uids []uint32) (Changes, error) {
	unlock, err := v.lockBoth()
	if err != nil {
		return Changes{}, err
	}
	defer unlock()
	f := v.f
	if f.gone {
		return Changes{}, ErrNoMailbox
	}
	lk, err := f.lockCurrent(ctx)
	if err != nil {
		return Changes{}, err
	}
	defer lk()
	var only map[uint32]bool
	if uids != nil {
		only = map[uint32]bool{}
		for _, u := range uids {
			only[u] = true
		}
	}
	del := map[uint32]bool{}
	for _, m := range v.msgs {
		if only != nil && !only[m.UID] {
			continue
		}
		if i := f.ix.find(m.UID); i >= 0 && f.ix.entries[i].sys&flagDeleted != 0 {
			del[m.UID] = true
		}
	}
	if len(del) == 0 {
		return Changes{}, nil
	}
	if err := f.removeEntries(del); err != nil {
		return Changes{}, err
	}
	ch := v.removeFromView(del)
	v.hms = max(v.hms, f.ix.highestModSeq)
	f.wake(v)
	return ch, nil
}

// source is what a copy needs of a message.
type source struct {
	uid   uint32
	path  string
	flags []string
	e     entry
}

func (v *mailboxImpl) copyTo(ctx context.Context, uids []uint32, dest string, _ bool) (uint32, []uint32, []uint32, error) {
	c, err := CheckName(dest)
	if err != nil {
		return 0, nil, nil, err
	}
	ddir := folderDir(v.u.root, c)
	if !isFolderDir(ddir) {
		return 0, nil, nil, fmt.Errorf("%w: %s", ErrNoMailbox, c)
	}
	// Collect the sources, then release the source folder: the two
	// folders are never locked at once.
	unlock, err := v.lockBoth()
	if err != nil {
		return 0, nil, nil, err
	}
	var srcs []source
	var count, bytes int64
	sorted := append([]uint32(nil), uids...)
	slices.Sort(sorted)
	for k, uid := range sorted {
		if k > 0 && sorted[k-1] == uid {
			continue
		}
		if _, ok := v.find(uid); !ok {
			continue
		}
		i := v.f.ix.find(uid)
		if i < 0 {
			continue
		}
		e := v.f.ix.entries[i]
		srcs = append(srcs, source{uid: uid, path: v.f.path("cur", e.name), flags: v.f.flagNames(e.sys, e.kw), e: e})
		count++
		bytes += e.psize
	}
	unlock()
	if len(srcs) == 0 {
		return 0, nil, nil, nil
	}
	if err := v.u.checkQuota(ctx, count, bytes); err != nil {
		return 0, nil, nil, err
	}

	df := v.u.st.acquire(v.u.root, ddir)
	defer v.u.st.release(df)
	df.mu.Lock()
	defer df.mu.Unlock()
	if err := df.refresh(ctx, false); err != nil {
		return 0, nil, nil, err
	}
	lk, err := df.lockCurrent(ctx)
	if err != nil {
		return 0, nil, nil, err
	}
	defer lk()
	modseq := df.ix.highestModSeq + 1
	var src, dst []uint32
	for _, s := range srcs {
		sys, kw := df.resolveFlags(s.flags)
		sys |= s.e.sys & flagPassed
		base := v.u.st.writer.uniqueName(s.e.psize) + ",W=" + fmt.Sprint(s.e.vsize)
		name := base + infoSep + formatInfo(sys, kw)
		if err := linkOrCopy(s.path, df.path("cur", name), df.path("tmp", base), v.u.st.owner); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // expunged meanwhile
			}
			return 0, nil, nil, fmt.Errorf("copying to %s: %w", c, err)
		}
		e := entry{uid: df.ix.uidNext, modseq: modseq, vsize: s.e.vsize, psize: s.e.psize, date: s.e.date, sys: sys, kw: kw, name: name}
		df.ix.uidNext++
		df.ix.entries = append(df.ix.entries, e)
		src = append(src, s.uid)
		dst = append(dst, e.uid)
	}
	if len(dst) == 0 {
		return df.ix.uidValidity, nil, nil, nil
	}
	if err := durable.SyncDir(df.path("cur")); err != nil {
		return 0, nil, nil, fmt.Errorf("copying to %s: %w", c, err)
	}
	df.ix.highestModSeq = modseq
	if err := df.writeIndex(); err != nil {
		return 0, nil, nil, err
	}
	df.wake(nil)
	return df.ix.uidValidity, src, dst, nil
}

// linkOrCopy hard-links a message file (content and mtime shared, as
// Dovecot's maildir_copy_with_hardlinks) or copies it through tmp.
func linkOrCopy(from, to, tmp string, owner *Owner) error {
	if err := os.Link(from, to); err == nil || errors.Is(err, fs.ErrNotExist) {
		return err
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	fail := func(err error) error { out.Close(); os.Remove(tmp); return err }
	if owner != nil {
		if err := out.Chown(owner.UID, owner.GID); err != nil {
			return fail(err)
		}
	}
	if _, err := io.Copy(out, in); err != nil {
		return fail(err)
	}
	if err := out.Sync(); err != nil {
		return fail(err)
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	os.Chtimes(tmp, st.ModTime(), st.ModTime())
	if err := os.Rename(tmp, to); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func (v *mailboxImpl) moveTo(ctx context.Context, uids []uint32, dest string) (uint32, []uint32, []uint32, Changes, error) {
	uidv, src, dst, err := v.copyTo(ctx, uids, dest, true)
	if err != nil || len(src) == 0 {
		return uidv, src, dst, Changes{}, err
	}
	unlock, err := v.lockBoth()
	if err != nil {
		return uidv, src, dst, Changes{}, err
	}
	defer unlock()
	f := v.f
	lk, err := f.lockCurrent(ctx)
	if err != nil {
		return uidv, src, dst, Changes{}, err
	}
	defer lk()
	gone := map[uint32]bool{}
	for _, u := range src {
		gone[u] = true
	}
	if err := f.removeEntries(gone); err != nil {
		return uidv, src, dst, Changes{}, err
	}
	ch := v.removeFromView(gone)
	v.hms = max(v.hms, f.ix.highestModSeq)
	f.wake(v)
	return uidv, src, dst, ch, nil
}
