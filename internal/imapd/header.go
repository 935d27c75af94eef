package imapd

import (
	"encoding/binary"
	"io"
	"slices"
	"strings"

	"mailhorn/internal/message"
	"mailhorn/internal/store"
)

// A message's header block is read alone, into the session's reused
// buffer, for SEARCH on a header field and for ENVELOPE: no MIME parse,
// no copy of the body.

// hdrBufSize is the first read: most header blocks fit.
const hdrBufSize = 16 << 10

// readHeader reads the header block of r (up to and including the blank
// line; the whole content when it has none; at most message.MaxHeader
// bytes, all that SEARCH reads: a longer header is cut there) into buf
// and returns it.
func readHeader(r io.Reader, buf []byte) ([]byte, error) {
	if cap(buf) < hdrBufSize {
		buf = make([]byte, 0, hdrBufSize)
	}
	buf = buf[:0]
	ra, _ := r.(io.ReaderAt)
	scanned := 0 // buf[:scanned] holds whole lines without the blank one
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= message.MaxHeader {
				return buf[:message.MaxHeader], nil
			}
			buf = slices.Grow(buf, min(cap(buf), message.MaxHeader-len(buf)))
		}
		var n int
		var err error
		if ra != nil {
			n, err = ra.ReadAt(buf[len(buf):cap(buf)], int64(len(buf)))
		} else {
			n, err = r.Read(buf[len(buf):cap(buf)])
		}
		buf = buf[:len(buf)+n]
		if end := message.HeaderEnd(buf[scanned:]); end >= 0 {
			return buf[:min(scanned+end, message.MaxHeader)], nil
		}
		// Start the next look at the last line, which is not complete.
		for i := len(buf) - 1; i >= scanned; i-- {
			if buf[i] == '\n' {
				scanned = i + 1
				break
			}
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// The "search" cache record holds the decoded values of the header
// fields the ENVELOPE is made of, so that SEARCH HEADER (and FROM, TO,
// SUBJECT...), SENT* and SORT answer from the index as Dovecot does from
// its cache: a version byte, then for each field of envFields present in
// the header, in the header's order, its index (one byte), the value's
// length (uvarint) and the value (decoded as message.EachField does: RFC
// 2047 words, unfolded, UTF-8). A field absent has no entry, a field
// repeated one per occurrence.
const (
	searchCacheField = "search"
	searchRecordV1   = 1
)

// envFields are the fields of the record, lower case.
var envFields = [...]string{"subject", "from", "to", "cc", "bcc", "date", "message-id", "in-reply-to", "reply-to", "sender"}

// Indexes of envFields used by SORT and SENT*.
const (
	efSubject = 0
	efFrom    = 1
	efTo      = 2
	efCc      = 3
	efDate    = 5
)

// envFieldIndex is the index of a lower-case field name in envFields, or
// -1.
func envFieldIndex(name string) int {
	for i, f := range envFields {
		if f == name {
			return i
		}
	}
	return -1
}

// envFieldIndexFold is envFieldIndex for a name as written.
func envFieldIndexFold(name []byte) int {
	for i, f := range envFields {
		if len(f) == len(name) && strings.EqualFold(f, string(name)) {
			return i
		}
	}
	return -1
}

// buildSearchRecord makes the record of a header block.
func buildSearchRecord(hdr []byte) []byte {
	rec := make([]byte, 1, 256)
	rec[0] = searchRecordV1
	message.EachField(hdr,
		func(name []byte) bool { return envFieldIndexFold(name) >= 0 },
		func(name []byte, v string) bool {
			rec = append(rec, byte(envFieldIndexFold(name)))
			rec = binary.AppendUvarint(rec, uint64(len(v)))
			rec = append(rec, v...)
			return true
		})
	return rec
}

// validSearchRecord tells whether a cached record can be read.
func validSearchRecord(rec []byte) bool {
	if len(rec) == 0 || rec[0] != searchRecordV1 {
		return false
	}
	for p := 1; p < len(rec); {
		if int(rec[p]) >= len(envFields) {
			return false
		}
		n, k := binary.Uvarint(rec[p+1:])
		if k <= 0 || n > uint64(len(rec)-p-1-k) {
			return false
		}
		p += 1 + k + int(n)
	}
	return true
}

// eachValue calls fn with each value of field idx in a valid record,
// until fn returns false.
func eachValue(rec []byte, idx int, fn func(v []byte) bool) {
	for p := 1; p < len(rec); {
		n, k := binary.Uvarint(rec[p+1:])
		v := rec[p+1+k : p+1+k+int(n)]
		if int(rec[p]) == idx && !fn(v) {
			return
		}
		p += 1 + k + int(n)
	}
}

// firstValue is the first value of field idx ("" when absent).
func firstValue(rec []byte, idx int) (string, bool) {
	var out string
	found := false
	eachValue(rec, idx, func(v []byte) bool {
		out, found = string(v), true
		return false
	})
	return out, found
}

// headerSource gives the header of one message at a time to SEARCH and
// SORT: the cached record when the index has it, else the header block
// read from the file (and the record made from it and cached).
type headerSource struct {
	s    *session
	uid  uint32
	rec  []byte
	hdr  []byte
	file io.ReadSeekCloser
	err  error
	read bool // hdr (or err) is set
}

func (h *headerSource) reset(uid uint32) {
	h.close()
	h.uid, h.rec, h.hdr, h.err, h.read = uid, nil, nil, nil, false
}

// header returns the message's header block.
func (h *headerSource) header() ([]byte, error) {
	if h.read {
		return h.hdr, h.err
	}
	h.read = true
	f, err := h.s.mbox.Open(h.uid)
	if err != nil {
		h.err = err
		return nil, err
	}
	h.file = f
	h.s.hdrBuf, h.err = readHeader(f, h.s.hdrBuf)
	if h.err == nil {
		h.hdr = h.s.hdrBuf
	}
	return h.hdr, h.err
}

// record returns the message's search record.
func (h *headerSource) record() ([]byte, error) {
	if h.rec != nil {
		return h.rec, nil
	}
	if v, ok := h.s.mbox.Cache(h.uid, searchCacheField); ok && validSearchRecord(v) {
		h.rec = v
		return v, nil
	}
	hdr, err := h.header()
	if err != nil {
		return nil, err
	}
	h.rec = buildSearchRecord(hdr)
	h.s.mbox.SetCache(h.uid, searchCacheField, h.rec)
	return h.rec, nil
}

func (h *headerSource) close() {
	if h.file != nil {
		h.file.Close()
		h.file = nil
	}
}

// cacheSearchRecord stores the record of a header block just read for
// another reason (FETCH ENVELOPE), unless the index has it.
func cacheSearchRecord(mb *store.Mailbox, uid uint32, hdr []byte) {
	if _, ok := mb.Cache(uid, searchCacheField); !ok {
		mb.SetCache(uid, searchCacheField, buildSearchRecord(hdr))
	}
}
