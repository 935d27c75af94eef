package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"syscall"
)

// crlfReader presents a message file with every bare LF turned into CRLF
// (a CR already before the LF, and bare CRs, are left alone): the form
// IMAP serves and RFC822.SIZE counts. Reading from the start converts on
// the fly; the first Seek elsewhere scans the file once for its bare LFs
// and maps offsets with a binary search.
//
// It works on a bare descriptor (no os.File: no fstat, no poller check,
// no finalizer per message) and reads at once as much as its buffer
// holds: a message smaller than the buffer (most are) is read whole by
// that one pread and the descriptor is closed at once.
type crlfReader struct {
	fd    int   // -1 once closed (or when whole)
	whole bool  // buf[:flen] is the whole file
	flen  int   // file length when whole
	size  int64 // converted size

	buf  []byte
	n, r int   // buf[r:n] is unread file data
	phys int64 // file offset of buf[n]
	prev byte  // the file byte before buf[r] (or before phys when empty)
	lf   bool  // the CR of a bare LF was emitted; its LF is next
	virt int64 // converted offset of the next byte to return

	bare []int64 // file offsets of bare LFs, once needed

	pooled *[]byte // buf came from crlfBufs: returned at Close
	closed bool
}

// crlfBufSize is the read buffer of a crlfReader: files smaller than it
// are read with one pread.
const crlfBufSize = 64 * 1024

// crlfBufs recycles the buffers of closed readers.
var crlfBufs = sync.Pool{New: func() any { b := make([]byte, crlfBufSize); return &b }}

// openCRLF opens the file at path (NUL-terminated) for a reader of a
// message whose converted size is size.
func openCRLF(path []byte, size int64) (*crlfReader, error) {
	fd, err := openRead(path)
	if err != nil {
		return nil, err
	}
	pooled := crlfBufs.Get().(*[]byte)
	c, err := newCRLFReader(fd, size, *pooled)
	if err != nil {
		crlfBufs.Put(pooled)
		return nil, err
	}
	c.pooled = pooled
	return c, nil
}

// newCRLFReader makes a reader of the open descriptor fd (which it owns
// from now on, closing it on error too) with buf as its read buffer. The
// file is never bigger than size (the converted size), so reading size+1
// bytes gives the whole file when they fit in buf.
func newCRLFReader(fd int, size int64, buf []byte) (*crlfReader, error) {
	c := &crlfReader{fd: fd, size: size, buf: buf}
	want := len(buf)
	if size+1 < int64(want) {
		want = int(size + 1)
	}
	n, err := pread(fd, buf[:want], 0)
	if err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("reading message: %w", err)
	}
	if n < want {
		// Short read of a regular file: its end.
		c.whole, c.flen, c.n, c.phys = true, n, n, int64(n)
		syscall.Close(fd)
		c.fd = -1
		return c, nil
	}
	c.n, c.phys = n, int64(n)
	return c, nil
}

// fill makes buf[r:n] the file data at phys (none: io.EOF).
func (c *crlfReader) fill() error {
	if c.whole {
		if c.phys >= int64(c.flen) {
			return io.EOF
		}
		c.r, c.n = int(c.phys), c.flen
		c.phys = int64(c.flen)
		return nil
	}
	n, err := pread(c.fd, c.buf, c.phys)
	if err != nil {
		return fmt.Errorf("reading message: %w", err)
	}
	if n == 0 {
		return io.EOF
	}
	c.r, c.n = 0, n
	c.phys += int64(n)
	return nil
}

// Read copies the runs between LFs whole; a bare LF (one without a CR
// before it) is given as CR then LF.
func (c *crlfReader) Read(p []byte) (int, error) {
	if c.closed {
		return 0, os.ErrClosed
	}
	out := 0
	for out < len(p) {
		if c.lf {
			p[out] = '\n'
			out++
			c.lf = false
			c.prev = '\n'
			continue
		}
		if c.r == c.n {
			if out > 0 {
				break
			}
			if err := c.fill(); err != nil {
				return 0, err
			}
		}
		src := c.buf[c.r:c.n]
		room := p[out:]
		if len(src) > len(room) {
			src = src[:len(room)]
		}
		i := bytes.IndexByte(src, '\n')
		if i < 0 {
			// No LF: the whole run goes out.
			copy(room, src)
			out += len(src)
			c.r += len(src)
			c.prev = src[len(src)-1]
			continue
		}
		// Bytes before the LF, then the LF itself (with its CR if bare).
		copy(room, src[:i])
		out += i
		c.r += i
		prev := c.prev
		if i > 0 {
			prev = src[i-1]
		}
		if prev == '\r' {
			p[out] = '\n'
			out++
			c.r++
			c.prev = '\n'
			continue
		}
		p[out] = '\r'
		out++
		c.r++
		c.lf = true
	}
	c.virt += int64(out)
	return out, nil
}

// scan finds the file offsets of the bare LFs (c.buf holds no unread
// data: Seek calls it after dropping it).
func (c *crlfReader) scan() error {
	if c.bare != nil {
		return nil
	}
	bare := []int64{}
	var prev byte
	var off int64
	for {
		var chunk []byte
		if c.whole {
			chunk = c.buf[:c.flen]
		} else {
			n, err := pread(c.fd, c.buf, off)
			if err != nil {
				return fmt.Errorf("reading message: %w", err)
			}
			chunk = c.buf[:n]
		}
		for i := 0; ; {
			j := bytes.IndexByte(chunk[i:], '\n')
			if j < 0 {
				break
			}
			p := prev
			if i+j > 0 {
				p = chunk[i+j-1]
			}
			if p != '\r' {
				bare = append(bare, off+int64(i+j))
			}
			i += j + 1
		}
		if c.whole || len(chunk) == 0 {
			c.bare = bare
			return nil
		}
		prev = chunk[len(chunk)-1]
		off += int64(len(chunk))
	}
}

func (c *crlfReader) Seek(offset int64, whence int) (int64, error) {
	if c.closed {
		return 0, os.ErrClosed
	}
	switch whence {
	case io.SeekCurrent:
		offset += c.virt
	case io.SeekEnd:
		offset += c.size
	}
	if offset < 0 {
		return 0, errors.New("seek before the start of the message")
	}
	c.r, c.n, c.lf, c.virt = 0, 0, false, offset
	if offset == 0 {
		c.phys, c.prev = 0, 0
		return 0, nil
	}
	if err := c.scan(); err != nil {
		return 0, err
	}
	// The i-th bare LF (0-based) at file offset b becomes a CR at
	// converted offset b+i and its LF at b+i+1. k = bare LFs whose CR is
	// before offset.
	k := sort.Search(len(c.bare), func(i int) bool { return c.bare[i]+int64(i) >= offset })
	if k > 0 && c.bare[k-1]+int64(k-1)+1 == offset {
		// Between the inserted CR and its LF.
		c.phys, c.lf = c.bare[k-1]+1, true
		c.prev = '\r'
		return offset, nil
	}
	c.phys = offset - int64(k)
	c.prev = 0
	if c.phys > 0 {
		if c.whole {
			if c.phys <= int64(c.flen) {
				c.prev = c.buf[c.phys-1]
			}
		} else {
			var one [1]byte
			if n, err := pread(c.fd, one[:], c.phys-1); err == nil && n == 1 {
				c.prev = one[0]
			}
		}
	}
	return offset, nil
}

func (c *crlfReader) Close() error {
	if c.closed {
		return os.ErrClosed
	}
	c.closed = true
	if c.pooled != nil {
		crlfBufs.Put(c.pooled)
		c.pooled = nil
	}
	c.buf = nil
	if c.fd < 0 {
		return nil
	}
	fd := c.fd
	c.fd = -1
	return syscall.Close(fd)
}

// pread is pread(2) retried on EINTR.
func pread(fd int, p []byte, off int64) (int, error) {
	for {
		n, err := syscall.Pread(fd, p, off)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		return n, nil
	}
}

// crlfSize is the converted size of content: its length plus one per bare
// LF. prev is the byte before content (0 at the start).
func crlfSize(content []byte, prev byte) int64 {
	n := int64(len(content))
	for _, b := range content {
		if b == '\n' && prev != '\r' {
			n++
		}
		prev = b
	}
	return n
}

// fileCRLFSize reads a file to compute its converted size.
func fileCRLFSize(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 64*1024)
	var total int64
	var prev byte
	for {
		n, err := f.Read(buf)
		if n > 0 {
			total += crlfSize(buf[:n], prev)
			prev = buf[n-1]
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return 0, err
		}
	}
}
