package maps

// The CDB constant database (D. J. Bernstein's format, as written by
// tinycdb and by Postfix's cdb: type):
//
//	header: 256 x (table position uint32, table slot count uint32)
//	records: klen uint32, dlen uint32, key bytes, data bytes
//	256 hash tables: slot count x (hash uint32, record position uint32)
//
// All integers are 32-bit little-endian, so a file is at most 4 GiB. A key
// hashes with djb's h = ((h << 5) + h) ^ c starting at 5381; table h & 255,
// first slot (h >> 8) % slots, linear probing, an empty slot has position 0.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

const (
	cdbHeaderSize = 2048
	cdbMaxSize    = 1<<32 - 1
)

// ErrTooLarge is returned when a CDB file would exceed the format's 4 GiB.
var ErrTooLarge = errors.New("cdb file would exceed the 4 GiB limit of the format")

// errCorrupt reports a file that does not hold what its header says.
var errCorrupt = errors.New("corrupt cdb file")

func cdbHash(key []byte) uint32 {
	h := uint32(5381)
	for _, c := range key {
		h = ((h << 5) + h) ^ uint32(c)
	}
	return h
}

// cdbFile is an open CDB file, read through a memory mapping when the
// system allows one, else with ReadAt.
type cdbFile struct {
	name string
	r    io.ReaderAt
	f    *os.File // nil for an in-memory file (tests)
	data []byte   // the mapping, nil when reading with ReadAt
	size int64
}

func openCDB(path string) (*cdbFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.Size() < cdbHeaderSize {
		f.Close()
		return nil, fmt.Errorf("%s: %w: shorter than its header", path, errCorrupt)
	}
	if st.Size() > cdbMaxSize {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, ErrTooLarge)
	}
	c := &cdbFile{name: path, r: f, f: f, size: st.Size()}
	c.data, _ = mmapFile(f, int(st.Size())) // no mapping: fall back to ReadAt
	return c, nil
}

func (c *cdbFile) Close() error {
	var err error
	if c.data != nil {
		err = munmapFile(c.data)
		c.data = nil
	}
	if c.f != nil {
		err = errors.Join(err, c.f.Close())
	}
	return err
}

// read returns n bytes at off; buf is scratch space for the ReadAt path.
func (c *cdbFile) read(off uint32, n uint32, buf []byte) ([]byte, error) {
	end := int64(off) + int64(n)
	if end > c.size {
		return nil, fmt.Errorf("%s: %w: read past end", c.name, errCorrupt)
	}
	if c.data != nil {
		return c.data[off:end], nil
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := c.r.ReadAt(buf, int64(off)); err != nil {
		return nil, fmt.Errorf("read %s: %w", c.name, err)
	}
	return buf, nil
}

func (c *cdbFile) uint32Pair(off uint32) (uint32, uint32, error) {
	var scratch [8]byte
	b, err := c.read(off, 8, scratch[:])
	if err != nil {
		return 0, 0, err
	}
	return binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:]), nil
}

// Get returns the data of the first record with key.
func (c *cdbFile) Get(key []byte) (value []byte, found bool, err error) {
	rpos, klen, dlen, err := c.find(key)
	if err != nil || rpos == 0 {
		return nil, false, err
	}
	v, err := c.read(rpos+8+klen, dlen, nil)
	if err != nil {
		return nil, false, err
	}
	return bytes.Clone(v), true, nil
}

// find returns the position and lengths of the first record with key, or
// position 0.
func (c *cdbFile) find(key []byte) (rpos, klen, dlen uint32, err error) {
	h := cdbHash(key)
	tpos, tlen, err := c.uint32Pair((h & 255) * 8)
	if err != nil || tlen == 0 {
		return 0, 0, 0, err
	}
	if uint64(tpos)+uint64(tlen)*8 > uint64(c.size) {
		return 0, 0, 0, fmt.Errorf("%s: %w: hash table past the end", c.name, errCorrupt)
	}
	slot := (h >> 8) % tlen
	for i := uint32(0); i < tlen; i++ {
		sh, rpos, err := c.uint32Pair(tpos + slot*8)
		if err != nil {
			return 0, 0, 0, err
		}
		if rpos == 0 {
			return 0, 0, 0, nil
		}
		if sh == h {
			klen, dlen, err := c.uint32Pair(rpos)
			if err != nil {
				return 0, 0, 0, err
			}
			if klen == uint32(len(key)) {
				k, err := c.read(rpos+8, klen, nil)
				if err != nil {
					return 0, 0, 0, err
				}
				if bytes.Equal(k, key) {
					return rpos, klen, dlen, nil
				}
			}
		}
		if slot++; slot == tlen {
			slot = 0
		}
	}
	return 0, 0, 0, nil
}

// ForEach calls fn for every record in file order.
func (c *cdbFile) ForEach(fn func(key, value []byte) error) error {
	// The records end where the first hash table starts (the writer puts
	// all tables after all records).
	end := uint32(c.size)
	for i := uint32(0); i < 256; i++ {
		tpos, _, err := c.uint32Pair(i * 8)
		if err != nil {
			return err
		}
		if tpos < end {
			end = tpos
		}
	}
	pos := uint32(cdbHeaderSize)
	for pos < end {
		klen, dlen, err := c.uint32Pair(pos)
		if err != nil {
			return err
		}
		if uint64(pos)+8+uint64(klen)+uint64(dlen) > uint64(end) {
			return fmt.Errorf("%s: %w: record at %d runs past the records", c.name, errCorrupt, pos)
		}
		k, err := c.read(pos+8, klen, nil)
		if err != nil {
			return err
		}
		v, err := c.read(pos+8+klen, dlen, nil)
		if err != nil {
			return err
		}
		if err := fn(bytes.Clone(k), bytes.Clone(v)); err != nil {
			return err
		}
		pos += 8 + klen + dlen
	}
	return nil
}

// cdbRecord is what the writer remembers of each record for the tables.
type cdbRecord struct {
	hash uint32
	pos  uint32
	dead bool
}

// cdbBuilder writes a CDB file sequentially to w: records first, tables
// and header at Finish.
type cdbBuilder struct {
	w    io.WriterAt
	pos  uint32
	recs []cdbRecord
	buf  []byte
	bw   *offsetWriter
}

// offsetWriter buffers sequential writes to an io.WriterAt.
type offsetWriter struct {
	w   io.WriterAt
	off int64
	buf []byte
}

func (o *offsetWriter) Write(p []byte) {
	o.buf = append(o.buf, p...)
}

func (o *offsetWriter) flushIfFull() error {
	if len(o.buf) < 1<<20 {
		return nil
	}
	return o.Flush()
}

func (o *offsetWriter) Flush() error {
	if len(o.buf) == 0 {
		return nil
	}
	if _, err := o.w.WriteAt(o.buf, o.off); err != nil {
		return err
	}
	o.off += int64(len(o.buf))
	o.buf = o.buf[:0]
	return nil
}

func newCDBBuilder(w io.WriterAt) *cdbBuilder {
	return &cdbBuilder{w: w, pos: cdbHeaderSize, bw: &offsetWriter{w: w, off: cdbHeaderSize}}
}

// add appends a record and returns its index.
func (b *cdbBuilder) add(key, value []byte) (int, error) {
	n := uint64(8) + uint64(len(key)) + uint64(len(value))
	// Leave room for the tables: 16 bytes per record at most (two slots
	// of 8), plus this record's slots.
	if uint64(b.pos)+n+16*uint64(len(b.recs)+1) > cdbMaxSize {
		return 0, ErrTooLarge
	}
	var hdr [8]byte
	binary.LittleEndian.PutUint32(hdr[:], uint32(len(key)))
	binary.LittleEndian.PutUint32(hdr[4:], uint32(len(value)))
	b.bw.Write(hdr[:])
	b.bw.Write(key)
	b.bw.Write(value)
	b.recs = append(b.recs, cdbRecord{hash: cdbHash(key), pos: b.pos})
	b.pos += uint32(n)
	return len(b.recs) - 1, b.bw.flushIfFull()
}

// key reads back the key of record i.
func (b *cdbBuilder) key(i int) ([]byte, error) {
	if err := b.bw.Flush(); err != nil {
		return nil, err
	}
	r, ok := b.w.(io.ReaderAt)
	if !ok {
		return nil, errors.New("cdb builder: cannot read back records")
	}
	var hdr [8]byte
	if _, err := r.ReadAt(hdr[:], int64(b.recs[i].pos)); err != nil {
		return nil, err
	}
	k := make([]byte, binary.LittleEndian.Uint32(hdr[:]))
	if _, err := r.ReadAt(k, int64(b.recs[i].pos)+8); err != nil {
		return nil, err
	}
	return k, nil
}

// finish writes the hash tables and the header, for the records not
// marked dead (CDBWriter copies the live ones to a new file first).
func (b *cdbBuilder) finish() error {
	var count [256]uint32
	for _, r := range b.recs {
		if !r.dead {
			count[r.hash&255]++
		}
	}
	// Group the live records by table, in record order.
	start := [256]uint32{}
	var total uint32
	for i := range 256 {
		start[i] = total
		total += count[i]
	}
	grouped := make([]cdbRecord, total)
	fill := start
	for _, r := range b.recs {
		if !r.dead {
			grouped[fill[r.hash&255]] = r
			fill[r.hash&255]++
		}
	}
	header := make([]byte, cdbHeaderSize)
	pos := b.pos
	for i := range 256 {
		n := count[i] * 2
		binary.LittleEndian.PutUint32(header[i*8:], pos)
		binary.LittleEndian.PutUint32(header[i*8+4:], n)
		if n == 0 {
			continue
		}
		slots := make([]byte, n*8)
		for _, r := range grouped[start[i] : start[i]+count[i]] {
			s := (r.hash >> 8) % n
			for binary.LittleEndian.Uint32(slots[s*8+4:]) != 0 {
				if s++; s == n {
					s = 0
				}
			}
			binary.LittleEndian.PutUint32(slots[s*8:], r.hash)
			binary.LittleEndian.PutUint32(slots[s*8+4:], r.pos)
		}
		if uint64(pos)+uint64(len(slots)) > cdbMaxSize {
			return ErrTooLarge
		}
		b.bw.Write(slots)
		if err := b.bw.flushIfFull(); err != nil {
			return err
		}
		pos += uint32(len(slots))
	}
	if err := b.bw.Flush(); err != nil {
		return err
	}
	_, err := b.w.WriteAt(header, 0)
	return err
}
