package imapd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"mailhorn/internal/message"
)

// FETCH BINARY (RFC 3516, part of IMAP4rev2): sections with their
// Content-Transfer-Encoding undone.

// binaries fills f.bin for the message's BINARY and BINARY.SIZE items.
func (f *fetcher) binaries() error {
	if len(f.bin) < len(f.req.items) {
		f.bin = make([][]byte, len(f.req.items))
	}
	for i := range f.req.items {
		it := &f.req.items[i]
		switch it.kind {
		case fiBinary:
			data, err := f.binary(it.section.Path)
			if err != nil {
				return err
			}
			if it.partial {
				data = partialOf(data, it.offset, it.count)
			}
			f.bin[i] = data
		case fiBinarySize:
			n, err := f.binarySize(it.section.Path)
			if err != nil {
				return err
			}
			f.bin[i] = strconv.AppendInt(f.bin[i][:0], n, 10)
		}
	}
	return nil
}

// binary returns the decoded content of the section path names; the whole
// message, as it is, for an empty path.
func (f *fetcher) binary(path []int) ([]byte, error) {
	if len(path) == 0 {
		if err := f.readerAt(); err != nil {
			return nil, err
		}
		data := make([]byte, f.size)
		if _, err := io.ReadFull(io.NewSectionReader(f.ra, 0, f.size), data); err != nil {
			return nil, f.s.storeError("fetch", fmt.Errorf("reading message UID %d: %w", f.uid, err))
		}
		return data, nil
	}
	part, err := f.parsed()
	if err != nil {
		return nil, err
	}
	data, err := part.Binary(f.ra, path)
	switch {
	case errors.Is(err, message.ErrMultipartSection):
		return nil, no("UNKNOWN-CTE", "Can't decode a multipart section.")
	case errors.Is(err, message.ErrUnknownCTE):
		return nil, no("UNKNOWN-CTE", "Unknown Content-Transfer-Encoding.")
	case err != nil:
		return nil, f.s.storeError("fetch", fmt.Errorf("decoding message UID %d: %w", f.uid, err))
	}
	f.s.mbox.SetCache(f.uid, binarySizeField(path), strconv.AppendInt(nil, int64(len(data)), 10))
	return data, nil
}

// binarySize is the decoded size of a section (BINARY.SIZE): from the
// mailbox cache, else decoded once and cached.
func (f *fetcher) binarySize(path []int) (int64, error) {
	if len(path) == 0 {
		return f.size, nil
	}
	if v, ok := f.s.mbox.Cache(f.uid, binarySizeField(path)); ok {
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil && n >= 0 {
			return n, nil
		}
	}
	data, err := f.binary(path)
	if err != nil {
		return 0, err
	}
	return int64(len(data)), nil
}

// binarySizeField is the cache field of a section's decoded size:
// "binary.size[1.2]".
func binarySizeField(path []int) string {
	b := []byte("binary.size[")
	for i, n := range path {
		if i > 0 {
			b = append(b, '.')
		}
		b = strconv.AppendInt(b, int64(n), 10)
	}
	return string(append(b, ']'))
}

// appendLiteral8 appends data as a literal8 ("~{n}", RFC 3516 §4.3) when
// it holds a NUL, else as a literal, as the RFC asks.
func appendLiteral8(b, data []byte) []byte {
	if bytes.IndexByte(data, 0) >= 0 {
		b = append(b, '~')
	}
	return appendLiteral(b, data)
}
