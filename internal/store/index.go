package store

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
)

// The index file (mailhorn.index in each folder) is one binary file,
// rewritten whole (temp file, fsync, rename) on every change, read whole
// at open. All integers are little-endian. See docs/store.md.
//
//	header  (68 bytes): "MHIX", version u16, flags u16 (1: new/ mtime
//	        settled, 2: cur/ mtime settled; others kept as read), UIDVALIDITY u32,
//	        UIDNEXT u32, HIGHESTMODSEQ u64, messages u32, reserved u32,
//	        physical bytes u64, RFC822 bytes u64, new/ mtime i64 (ns),
//	        cur/ mtime i64 (ns), CRC-32C of the preceding 64 bytes u32
//	keywords: count u32, then per keyword length u16 + bytes; CRC-32C u32
//	entries: per message UID u32, MODSEQ u64, RFC822.SIZE i64, file size
//	        i64, internal date i64 (Unix seconds), system flags u8,
//	        keyword count u16 + ids u16..., file name length u16 + name
//	        (in cur/), CRC-32C of the entry u32
//	trailer: "MHIE", entry count u32
//
// Each part has its own checksum so that a damaged file still yields its
// valid header (UIDVALIDITY, UIDNEXT) and the entries before the damage.

const (
	indexMagic   = "MHIX"
	trailerMagic = "MHIE"
	indexVersion = 1
	headerSize   = 68
	maxKeywords  = 4096
	maxFileName  = 255
	minEntrySize = 4 + 8 + 8 + 8 + 8 + 1 + 2 + 2 + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// entry is one message of a folder's index.
type entry struct {
	uid    uint32
	modseq uint64
	vsize  int64 // RFC822.SIZE
	psize  int64 // bytes on disk
	date   int64 // internal date, Unix seconds
	sys    uint8
	kw     []uint16 // keyword ids, sorted
	name   string   // file name in cur/
}

// index is a folder's state as the index file holds it.
type index struct {
	uidValidity   uint32
	uidNext       uint32
	highestModSeq uint64
	newMtime      int64
	curMtime      int64
	// When new/ and cur/ were last listed (Unix ns; not in the file,
	// which only tells whether the listing was settled, see settled).
	newCheck, curCheck int64
	// hdrFlags is the header's flags field as read, other bits kept.
	hdrFlags uint16
	keywords []string
	entries  []entry // by UID
}

// totals are the message count and byte sums of the entries.
func (ix *index) totals() (n int64, psize, vsize int64) {
	for i := range ix.entries {
		psize += ix.entries[i].psize
		vsize += ix.entries[i].vsize
	}
	return int64(len(ix.entries)), psize, vsize
}

// find returns the position of uid in entries, or -1.
func (ix *index) find(uid uint32) int {
	lo, hi := 0, len(ix.entries)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ix.entries[m].uid < uid {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(ix.entries) && ix.entries[lo].uid == uid {
		return lo
	}
	return -1
}

func (ix *index) encode() []byte {
	le := binary.LittleEndian
	size := headerSize + 8 + 8 + 8
	for _, k := range ix.keywords {
		size += 2 + len(k)
	}
	for i := range ix.entries {
		size += minEntrySize + 2*len(ix.entries[i].kw) + len(ix.entries[i].name)
	}
	b := make([]byte, 0, size)
	n, psize, vsize := ix.totals()
	b = append(b, indexMagic...)
	b = le.AppendUint16(b, indexVersion)
	fl := ix.hdrFlags &^ (flagNewSettled | flagCurSettled)
	if settled(ix.newMtime, ix.newCheck) {
		fl |= flagNewSettled
	}
	if settled(ix.curMtime, ix.curCheck) {
		fl |= flagCurSettled
	}
	b = le.AppendUint16(b, fl)
	b = le.AppendUint32(b, ix.uidValidity)
	b = le.AppendUint32(b, ix.uidNext)
	b = le.AppendUint64(b, ix.highestModSeq)
	b = le.AppendUint32(b, uint32(n))
	b = le.AppendUint32(b, 0)
	b = le.AppendUint64(b, uint64(psize))
	b = le.AppendUint64(b, uint64(vsize))
	b = le.AppendUint64(b, uint64(ix.newMtime))
	b = le.AppendUint64(b, uint64(ix.curMtime))
	b = le.AppendUint32(b, crc32.Checksum(b, castagnoli))

	start := len(b)
	b = le.AppendUint32(b, uint32(len(ix.keywords)))
	for _, k := range ix.keywords {
		b = le.AppendUint16(b, uint16(len(k)))
		b = append(b, k...)
	}
	b = le.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))

	for i := range ix.entries {
		e := &ix.entries[i]
		start := len(b)
		b = le.AppendUint32(b, e.uid)
		b = le.AppendUint64(b, e.modseq)
		b = le.AppendUint64(b, uint64(e.vsize))
		b = le.AppendUint64(b, uint64(e.psize))
		b = le.AppendUint64(b, uint64(e.date))
		b = append(b, e.sys)
		b = le.AppendUint16(b, uint16(len(e.kw)))
		for _, k := range e.kw {
			b = le.AppendUint16(b, k)
		}
		b = le.AppendUint16(b, uint16(len(e.name)))
		b = append(b, e.name...)
		b = le.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
	}
	b = append(b, trailerMagic...)
	b = le.AppendUint32(b, uint32(len(ix.entries)))
	return b
}

var (
	errIndexHeader = errors.New("index header damaged")
	errIndexBody   = errors.New("index entries damaged")
)

// header is the fixed part of an index file, readable alone (quota usage).
type header struct {
	uidValidity, uidNext uint32
	highestModSeq        uint64
	messages             uint32
	psize, vsize         int64
	newMtime, curMtime   int64
	flags                uint16
}

// Header flags: the recorded mtime of new/ (cur/) was read by a listing
// made dirtyWindow after it, so equal mtimes mean no change since.
const (
	flagNewSettled = 1 << iota
	flagCurSettled
)

func decodeHeader(b []byte) (header, error) {
	le := binary.LittleEndian
	if len(b) < headerSize || string(b[:4]) != indexMagic ||
		le.Uint16(b[4:]) != indexVersion ||
		crc32.Checksum(b[:headerSize-4], castagnoli) != le.Uint32(b[headerSize-4:]) {
		return header{}, errIndexHeader
	}
	h := header{
		uidValidity:   le.Uint32(b[8:]),
		uidNext:       le.Uint32(b[12:]),
		highestModSeq: le.Uint64(b[16:]),
		messages:      le.Uint32(b[24:]),
		psize:         int64(le.Uint64(b[32:])),
		vsize:         int64(le.Uint64(b[40:])),
		newMtime:      int64(le.Uint64(b[48:])),
		curMtime:      int64(le.Uint64(b[56:])),
		flags:         le.Uint16(b[6:]),
	}
	if h.uidValidity == 0 || h.uidNext == 0 {
		return header{}, errIndexHeader
	}
	return h, nil
}

// decodeIndex reads an index file. With a nil error the file was whole
// and consistent. With errIndexBody the header was valid and ix holds it,
// the keywords if they were valid, and the entries before the damage
// (each checked by its own checksum, UIDs increasing and below UIDNEXT):
// what a rebuild can keep. With errIndexHeader nothing can be kept.
func decodeIndex(b []byte) (*index, error) {
	le := binary.LittleEndian
	h, err := decodeHeader(b)
	if err != nil {
		return nil, err
	}
	ix := &index{uidValidity: h.uidValidity, uidNext: h.uidNext, highestModSeq: h.highestModSeq,
		newMtime: h.newMtime, curMtime: h.curMtime, hdrFlags: h.flags}
	if h.flags&flagNewSettled != 0 {
		ix.newCheck = h.newMtime + int64(dirtyWindow)
	}
	if h.flags&flagCurSettled != 0 {
		ix.curCheck = h.curMtime + int64(dirtyWindow)
	}
	p := headerSize
	// Keywords.
	if len(b)-p < 8 {
		return ix, errIndexBody
	}
	nk := int(le.Uint32(b[p:]))
	q := p + 4
	if nk > maxKeywords {
		return ix, errIndexBody
	}
	kws := make([]string, 0, nk)
	for range nk {
		if len(b)-q < 2 {
			return ix, errIndexBody
		}
		l := int(le.Uint16(b[q:]))
		q += 2
		if len(b)-q < l {
			return ix, errIndexBody
		}
		k := string(b[q : q+l])
		if !validKeyword(k) {
			return ix, errIndexBody
		}
		kws = append(kws, k)
		q += l
	}
	if len(b)-q < 4 || crc32.Checksum(b[p:q], castagnoli) != le.Uint32(b[q:]) {
		return ix, errIndexBody
	}
	ix.keywords = kws
	p = q + 4

	if n := int(h.messages); n <= (len(b)-p)/minEntrySize {
		ix.entries = make([]entry, 0, n)
	}
	// One string for all the names: one allocation instead of one each.
	str := string(b)
	var last uint32
	for {
		if len(b)-p >= 8 && string(b[p:p+4]) == trailerMagic {
			if int(le.Uint32(b[p+4:])) != len(ix.entries) || len(b)-p != 8 ||
				len(ix.entries) != int(h.messages) {
				return ix, errIndexBody
			}
			return ix, nil
		}
		e, n, ok := decodeEntry(b[p:], str[p:], len(ix.keywords))
		if !ok || e.uid <= last || e.uid >= ix.uidNext || e.modseq > ix.highestModSeq {
			return ix, errIndexBody
		}
		last = e.uid
		ix.entries = append(ix.entries, e)
		p += n
	}
}

// decodeEntry reads the entry at the start of b; str is the same bytes as
// a string, for the name.
func decodeEntry(b []byte, str string, nkw int) (entry, int, bool) {
	le := binary.LittleEndian
	const fixed = 4 + 8 + 8 + 8 + 8 + 1 + 2
	if len(b) < fixed {
		return entry{}, 0, false
	}
	e := entry{
		uid:    le.Uint32(b),
		modseq: le.Uint64(b[4:]),
		vsize:  int64(le.Uint64(b[12:])),
		psize:  int64(le.Uint64(b[20:])),
		date:   int64(le.Uint64(b[28:])),
		sys:    b[36],
	}
	nk := int(le.Uint16(b[37:]))
	p := fixed
	if nk > nkw || len(b)-p < 2*nk+2 {
		return entry{}, 0, false
	}
	if nk > 0 {
		e.kw = make([]uint16, nk)
		for i := range nk {
			e.kw[i] = le.Uint16(b[p:])
			p += 2
			if int(e.kw[i]) >= nkw || i > 0 && e.kw[i] <= e.kw[i-1] {
				return entry{}, 0, false
			}
		}
	}
	l := int(le.Uint16(b[p:]))
	p += 2
	if l == 0 || l > maxFileName || len(b)-p < l+4 {
		return entry{}, 0, false
	}
	e.name = str[p : p+l]
	p += l
	if crc32.Checksum(b[:p], castagnoli) != le.Uint32(b[p:]) {
		return entry{}, 0, false
	}
	// The file is in the user's directory: never trust a name that could
	// point outside cur/.
	if e.uid == 0 || e.vsize < 0 || e.psize < 0 || e.sys >= flagPassed<<1 || !safeFileName(e.name) {
		return entry{}, 0, false
	}
	return e, p + 4, true
}

// safeFileName reports whether name is a plain file name: no '/', no NUL,
// not "." or "..", not hidden.
func safeFileName(name string) bool {
	return name != "" && name[0] != '.' && !strings.ContainsAny(name, "/\x00") && len(name) <= maxFileName
}
