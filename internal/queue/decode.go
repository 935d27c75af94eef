package queue

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// File is a parsed queue file: the envelope, and where the content lies so
// that delivery agents can copy it without holding it in memory.
type File struct {
	Envelope
	ContentOffset int64
	ContentSize   int64

	// From the records the queue manager appends after the end record.
	Defers      map[int]Defer // the last deferral of each recipient, by index
	LastAttempt time.Time     // of the last deferred delivery attempt
	Backoff     time.Duration // the wait chosen after that attempt
	DelayWarned bool          // the sender got the delay warning
	// End is where the last whole record ends: appending starts there,
	// over whatever a crash left of a cut-short record.
	End int64
}

// Decode parses a queue file. Errors wrap ErrIncomplete for a file whose
// writer died before finishing it, ErrCorrupt for anything else that does not
// parse.
func Decode(r io.ReaderAt, size int64) (*File, error) {
	d := decoder{r: bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 16<<10), size: size}
	f, err := d.decode()
	if err != nil {
		return nil, err
	}
	return f, nil
}

type decoder struct {
	r    *bufio.Reader
	off  int64
	size int64
}

func (d *decoder) corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: offset %d: %s", ErrCorrupt, d.off, fmt.Sprintf(format, args...))
}

func (d *decoder) readByte() (byte, error) {
	b, err := d.r.ReadByte()
	if err == nil {
		d.off++
	}
	return b, err
}

func (d *decoder) decode() (*File, error) {
	var m [len(magic)]byte
	if _, err := io.ReadFull(d.r, m[:]); err != nil || string(m[:]) != magic {
		if d.size < int64(len(magic)) {
			return nil, fmt.Errorf("%w: %d bytes", ErrIncomplete, d.size)
		}
		return nil, d.corrupt("bad magic %q", m[:])
	}
	d.off = int64(len(magic))
	f := &File{ContentOffset: -1}
	seen := map[byte]bool{}
	for {
		typ, err := d.readByte()
		if err == io.EOF {
			return nil, fmt.Errorf("%w: no end record", ErrIncomplete)
		}
		if err != nil {
			return nil, err
		}
		if typ == recContent {
			if f.ContentOffset >= 0 {
				return nil, d.corrupt("second content record")
			}
			var n [8]byte
			if _, err := io.ReadFull(d.r, n[:]); err != nil {
				return nil, fmt.Errorf("%w: truncated content record", ErrIncomplete)
			}
			d.off += 8
			size := binary.BigEndian.Uint64(n[:])
			if size > uint64(d.size-d.off) {
				return nil, fmt.Errorf("%w: content of %d bytes, %d left in file", ErrIncomplete, size, d.size-d.off)
			}
			f.ContentOffset, f.ContentSize = d.off, int64(size)
			if _, err := d.r.Discard(int(size)); err != nil {
				return nil, err
			}
			d.off += int64(size)
			continue
		}
		start := d.off
		n, err := binary.ReadUvarint(byteCounter{d})
		if err != nil {
			return nil, fmt.Errorf("%w: truncated record length", ErrIncomplete)
		}
		if n > maxRecord {
			return nil, d.corrupt("record %q of %d bytes", typ, n)
		}
		if n > uint64(d.size-d.off) {
			return nil, fmt.Errorf("%w: record %q of %d bytes, %d left in file", ErrIncomplete, typ, n, d.size-d.off)
		}
		payloadOff := d.off
		payload := make([]byte, n)
		if _, err := io.ReadFull(d.r, payload); err != nil {
			return nil, err
		}
		d.off += int64(n)
		_ = start
		switch typ {
		case recArrival:
			us, err := strconv.ParseInt(string(payload), 10, 64)
			if err != nil || seen[typ] {
				return nil, d.corrupt("bad arrival record %q", payload)
			}
			f.Arrival = time.UnixMicro(us)
		case recSender:
			if seen[typ] {
				return nil, d.corrupt("second sender record")
			}
			f.Sender = string(payload)
		case recAttr:
			name, value, ok := strings.Cut(string(payload), "=")
			if !ok || name == "" {
				return nil, d.corrupt("bad attribute record %q", payload)
			}
			f.Attrs = append(f.Attrs, Attr{name, value})
		case recRecipient:
			if len(payload) < 3 {
				return nil, d.corrupt("short recipient record")
			}
			fields := strings.Split(string(payload[2:]), "\x00")
			if len(fields) != 3 || (payload[0] != StatusPending && payload[0] != StatusDone) {
				return nil, d.corrupt("bad recipient record %q", payload)
			}
			f.Recipients = append(f.Recipients, Recipient{
				Address: fields[0], Original: fields[1], ORCPT: fields[2], Notify: payload[1], Status: payload[0], offset: payloadOff,
			})
		case recEnd:
			if n != 0 {
				return nil, d.corrupt("end record with payload")
			}
			if !seen[recArrival] || !seen[recSender] || f.ContentOffset < 0 {
				return nil, d.corrupt("end record before arrival, sender and content")
			}
			if len(f.Recipients) == 0 {
				return nil, d.corrupt("no recipients")
			}
			f.End = d.off
			if err := d.appended(f); err != nil {
				return nil, err
			}
			return f, nil
		default:
			return nil, d.corrupt("unknown record type %q", typ)
		}
		seen[typ] = true
	}
}

// appended reads the records after the end record. A last record cut short
// by a crash is ignored; anything else that does not parse is corruption.
func (d *decoder) appended(f *File) error {
	for {
		typ, err := d.readByte()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		n, err := binary.ReadUvarint(byteCounter{d})
		if err != nil {
			return nil // cut short
		}
		if n > maxRecord {
			return d.corrupt("appended record %q of %d bytes", typ, n)
		}
		if n > uint64(d.size-d.off) {
			return nil // cut short
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(d.r, payload); err != nil {
			return err
		}
		d.off += int64(n)
		fields := strings.Split(string(payload), "\x00")
		switch typ {
		case recDefer:
			if len(fields) != 6 {
				return d.corrupt("bad defer record %q", payload)
			}
			idx, err1 := strconv.Atoi(fields[0])
			us, err2 := strconv.ParseInt(fields[1], 10, 64)
			if err1 != nil || err2 != nil || idx < 0 || idx >= len(f.Recipients) {
				return d.corrupt("bad defer record %q", payload)
			}
			if f.Defers == nil {
				f.Defers = map[int]Defer{}
			}
			f.Defers[idx] = Defer{Index: idx, Time: time.UnixMicro(us), DSN: fields[2], Relay: fields[3], Text: fields[4], Remote: fields[5]}
		case recRetry:
			if len(fields) != 2 {
				return d.corrupt("bad retry record %q", payload)
			}
			us, err1 := strconv.ParseInt(fields[0], 10, 64)
			b, err2 := strconv.ParseInt(fields[1], 10, 64)
			if err1 != nil || err2 != nil || b < 0 {
				return d.corrupt("bad retry record %q", payload)
			}
			f.LastAttempt, f.Backoff = time.UnixMicro(us), time.Duration(b)*time.Microsecond
		case recWarn:
			if _, err := strconv.ParseInt(string(payload), 10, 64); err != nil {
				return d.corrupt("bad warning record %q", payload)
			}
			f.DelayWarned = true
		default:
			return d.corrupt("unknown appended record type %q", typ)
		}
		f.End = d.off
	}
}

// byteCounter lets binary.ReadUvarint read through the decoder's offset
// bookkeeping.
type byteCounter struct{ d *decoder }

func (b byteCounter) ReadByte() (byte, error) { return b.d.readByte() }

// ErrNotPending is returned by MarkDone for a recipient not in pending state.
var ErrNotPending = errors.New("recipient is not pending")

// MarkDone records, in place, that a recipient has been delivered (or
// bounced, with its notice queued): one byte at the recipient's status offset.
// The caller syncs the file before forgetting the delivery.
func MarkDone(f io.WriterAt, r Recipient) error {
	if r.offset <= 0 {
		return errors.New("mark done: recipient has no file offset")
	}
	if r.Status != StatusPending {
		return ErrNotPending
	}
	if _, err := f.WriteAt([]byte{StatusDone}, r.offset); err != nil {
		return fmt.Errorf("mark done %s: %w", r.Address, err)
	}
	return nil
}
