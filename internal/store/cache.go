package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
)

// The cache file (mailhorn.cache) holds the opaque values of SetCache,
// append-only: "MHCA", UIDVALIDITY u32, then records of UID u32, field
// length u8 + field, value length u32 + value, CRC-32C of the record u32.
// It is read at the first Cache call, up to the first damaged record; a
// file of another UIDVALIDITY is discarded. Values of expunged messages
// stay until the file is rewritten when more than half of it is dead.
const (
	cacheFile     = "mailhorn.cache"
	cacheMagic    = "MHCA"
	maxCacheValue = 16 << 20
	cacheFlushAt  = 256 << 10
)

type cacheStore struct {
	loaded  bool
	uidv    uint32
	m       map[uint32]map[string][]byte
	pending []byte // records not yet appended to the file
	live    int64  // bytes of records of messages still there
	file    int64  // bytes of the file
}

func cacheRecord(b []byte, uid uint32, field string, v []byte) []byte {
	le := binary.LittleEndian
	start := len(b)
	b = le.AppendUint32(b, uid)
	b = append(b, byte(len(field)))
	b = append(b, field...)
	b = le.AppendUint32(b, uint32(len(v)))
	b = append(b, v...)
	return le.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// decodeCache replays a cache file; it returns the values and the length
// of the valid prefix.
func decodeCache(b []byte, uidv uint32) (map[uint32]map[string][]byte, int) {
	le := binary.LittleEndian
	m := map[uint32]map[string][]byte{}
	if len(b) < 8 || string(b[:4]) != cacheMagic || le.Uint32(b[4:]) != uidv {
		return m, 0
	}
	p := 8
	for {
		r := b[p:]
		if len(r) < 4+1+4+4 {
			return m, p
		}
		uid := le.Uint32(r)
		fl := int(r[4])
		if len(r) < 5+fl+4 {
			return m, p
		}
		field := string(r[5 : 5+fl])
		vl := int(le.Uint32(r[5+fl:]))
		q := 5 + fl + 4
		if vl > maxCacheValue || len(r)-q < vl+4 {
			return m, p
		}
		q += vl
		if crc32.Checksum(r[:q], castagnoli) != le.Uint32(r[q:]) {
			return m, p
		}
		if m[uid] == nil {
			m[uid] = map[string][]byte{}
		}
		m[uid][field] = r[q-vl : q : q]
		p += q + 4
	}
}

// load reads the cache file, keeping only the messages of ix.
func (c *cacheStore) load(dir string, ix *index) {
	c.loaded, c.uidv = true, ix.uidValidity
	b, err := os.ReadFile(filepath.Join(dir, cacheFile))
	m, valid := decodeCache(b, ix.uidValidity)
	c.m, c.file, c.live = map[uint32]map[string][]byte{}, 0, 0
	if err != nil || valid == 0 {
		return
	}
	c.file = int64(valid)
	if valid < len(b) {
		c.file = -1 // damaged tail: rewrite at the next flush
	}
	for uid, fields := range m {
		if ix.find(uid) < 0 {
			continue
		}
		c.m[uid] = fields
		for f, v := range fields {
			c.live += int64(len(cacheRecord(nil, uid, f, v)))
		}
	}
}

func (c *cacheStore) get(uid uint32, field string) ([]byte, bool) {
	v, ok := c.m[uid][field]
	return v, ok
}

func (c *cacheStore) set(uid uint32, field string, v []byte) {
	if len(field) == 0 || len(field) > 255 || len(v) > maxCacheValue {
		return
	}
	if c.m[uid] == nil {
		c.m[uid] = map[string][]byte{}
	}
	v = append([]byte(nil), v...)
	c.m[uid][field] = v
	rec := len(c.pending)
	c.pending = cacheRecord(c.pending, uid, field, v)
	c.live += int64(len(c.pending) - rec)
}

func (c *cacheStore) drop(uid uint32) {
	for f, v := range c.m[uid] {
		c.live -= int64(len(cacheRecord(nil, uid, f, v)))
	}
	delete(c.m, uid)
}

// flush appends the pending records, or rewrites the file when it is
// mostly dead, damaged, or of another UIDVALIDITY. Losing the cache costs
// only re-parsing, so it is not fsynced.
func (c *cacheStore) flush(dir string, own func(string) error) error {
	if !c.loaded || len(c.pending) == 0 && c.file >= 0 && c.file <= 2*c.live+(64<<10) {
		return nil
	}
	path := filepath.Join(dir, cacheFile)
	if c.file < 0 || c.file == 0 || c.file+int64(len(c.pending)) > 2*c.live+(64<<10) {
		b := make([]byte, 8, 8+c.live)
		copy(b, cacheMagic)
		binary.LittleEndian.PutUint32(b[4:], c.uidv)
		for uid, fields := range c.m {
			for f, v := range fields {
				b = cacheRecord(b, uid, f, v)
			}
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			return fmt.Errorf("writing cache: %w", err)
		}
		if err := own(tmp); err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("writing cache: %w", err)
		}
		c.file, c.pending = int64(len(b)), nil
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		c.file = 0
		return c.flush(dir, own)
	}
	if err != nil {
		return fmt.Errorf("writing cache: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || st.Size() != c.file {
		// Another process wrote it: start over rather than interleave.
		c.file = -1
		return c.flush(dir, own)
	}
	if _, err := f.Write(c.pending); err != nil {
		return fmt.Errorf("writing cache: %w", err)
	}
	c.file += int64(len(c.pending))
	c.pending = nil
	return nil
}
