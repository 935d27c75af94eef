package maps

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
)

// ErrDuplicate is returned by CDBWriter.Add for a key already added; the
// first value is kept, as postmap(1) does by default.
var ErrDuplicate = errors.New("duplicate entry")

// metaKey is the key of the record holding table flags. postmap source
// files cannot produce an empty key, so it never collides with data.
const metaKey = ""

// metaNoFold marks a table built with -f: its keys keep their case and
// lookups do not fold the query.
const metaNoFold = "mailhorn-flags nofold"

// CDBWriter builds a CDB file under a unique temporary name next to the
// target and renames it into place on Commit, so readers see either the
// old file or the complete new one.
type CDBWriter struct {
	path string
	tmp  *os.File
	b    *cdbBuilder
	// byHash maps a 64-bit hash of each key to its record; keys whose
	// hash collides with a different key go to overflow.
	byHash   map[uint64]int
	overflow map[string]int
	done     bool
	mode     os.FileMode
	uid, gid int
}

// CreateCDB starts building the CDB file path.
func CreateCDB(path string) (*CDBWriter, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &CDBWriter{
		path:     path,
		tmp:      tmp,
		b:        newCDBBuilder(tmp),
		byHash:   map[uint64]int{},
		overflow: map[string]int{},
		mode:     0o644,
		uid:      -1,
		gid:      -1,
	}, nil
}

func keyHash64(key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	return h.Sum64()
}

// find returns the index of the live record with key, or -1.
func (w *CDBWriter) find(key string) (int, error) {
	if i, ok := w.overflow[key]; ok {
		return i, nil
	}
	i, ok := w.byHash[keyHash64(key)]
	if !ok {
		return -1, nil
	}
	k, err := w.b.key(i)
	if err != nil {
		return -1, fmt.Errorf("build %s: %w", w.path, err)
	}
	if !bytes.Equal(k, []byte(key)) {
		return -1, nil
	}
	return i, nil
}

func (w *CDBWriter) insert(key, value string) error {
	i, err := w.b.add([]byte(key), []byte(value))
	if err != nil {
		return fmt.Errorf("build %s: %w", w.path, err)
	}
	h := keyHash64(key)
	if _, taken := w.byHash[h]; taken {
		w.overflow[key] = i
	} else {
		w.byHash[h] = i
	}
	return nil
}

func (w *CDBWriter) forget(key string, i int) {
	w.b.recs[i].dead = true
	if j, ok := w.overflow[key]; ok && j == i {
		delete(w.overflow, key)
		return
	}
	delete(w.byHash, keyHash64(key))
}

// Add stores key with value exactly as given (callers fold keys). A key
// already present is left alone and ErrDuplicate returned.
func (w *CDBWriter) Add(key, value string) error {
	i, err := w.find(key)
	if err != nil {
		return err
	}
	if i >= 0 {
		return fmt.Errorf("%q: %w", key, ErrDuplicate)
	}
	return w.insert(key, value)
}

// Replace stores key with value, replacing an earlier value.
func (w *CDBWriter) Replace(key, value string) error {
	if err := w.Delete(key); err != nil {
		return err
	}
	return w.insert(key, value)
}

// Delete removes key; it is not an error when key is absent.
func (w *CDBWriter) Delete(key string) error {
	i, err := w.find(key)
	if err != nil || i < 0 {
		return err
	}
	w.forget(key, i)
	return nil
}

// Has tells whether key was added and not deleted.
func (w *CDBWriter) Has(key string) (bool, error) {
	i, err := w.find(key)
	return i >= 0, err
}

// SetNoFold records that the table's keys are case-sensitive (postmap -f).
func (w *CDBWriter) SetNoFold() error {
	return w.Replace(metaKey, metaNoFold)
}

// SetOwner makes the built file carry the given mode and, when uid is not
// -1 (and the process may), owner, as postmap gives a table the owner of
// its source file.
func (w *CDBWriter) SetOwner(mode os.FileMode, uid, gid int) {
	w.mode, w.uid, w.gid = mode.Perm(), uid, gid
}

// Commit writes the tables, syncs the file and renames it into place.
func (w *CDBWriter) Commit() error {
	if w.done {
		return errors.New("cdb writer: already finished")
	}
	w.done = true
	err := w.compact()
	if err == nil {
		err = w.b.finish()
	}
	if err == nil {
		err = w.tmp.Chmod(w.mode)
	}
	if err == nil && w.uid >= 0 && os.Geteuid() == 0 {
		err = w.tmp.Chown(w.uid, w.gid)
	}
	if err == nil {
		err = w.tmp.Sync()
	}
	if cerr := w.tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.tmp.Name(), w.path)
	}
	if err != nil {
		os.Remove(w.tmp.Name())
		return fmt.Errorf("build %s: %w", w.path, err)
	}
	// Make the rename itself durable.
	if d, err := os.Open(filepath.Dir(w.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// compact copies the live records to a fresh temporary file when some were
// replaced or deleted, so that the file holds only records its tables
// point to (a sequential dump then needs no liveness check).
func (w *CDBWriter) compact() error {
	dead := false
	for _, r := range w.b.recs {
		dead = dead || r.dead
	}
	if !dead {
		return nil
	}
	if err := w.b.bw.Flush(); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(w.path), filepath.Base(w.path)+".tmp*")
	if err != nil {
		return err
	}
	nb := newCDBBuilder(tmp)
	var hdr [8]byte
	for _, r := range w.b.recs {
		if r.dead {
			continue
		}
		if _, err = w.tmp.ReadAt(hdr[:], int64(r.pos)); err != nil {
			break
		}
		kl, dl := binary.LittleEndian.Uint32(hdr[:]), binary.LittleEndian.Uint32(hdr[4:])
		kv := make([]byte, kl+dl)
		if _, err = w.tmp.ReadAt(kv, int64(r.pos)+8); err != nil {
			break
		}
		if _, err = nb.add(kv[:kl], kv[kl:]); err != nil {
			break
		}
	}
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	w.tmp.Close()
	os.Remove(w.tmp.Name())
	w.tmp, w.b = tmp, nb
	return nil
}

// Abort discards the file being built.
func (w *CDBWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.tmp.Close()
	return os.Remove(w.tmp.Name())
}
