package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// The queue file is a sequence of records: one type byte, a uvarint length,
// then that many payload bytes. The content record carries a fixed 8-byte
// length instead, so that content can be streamed in before its size is
// known. See docs/queue-format.md.
const (
	magic = "MHQ1"

	recArrival   = 'T' // arrival time, Unix microseconds, decimal
	recSender    = 'S' // envelope sender ("" is the null sender)
	recAttr      = 'A' // name=value attribute
	recContent   = 'M' // message content: 8-byte big-endian length, then the bytes
	recRecipient = 'R' // status byte, notify byte, address, NUL, original recipient, NUL, DSN ORCPT
	recEnd       = 'E' // empty: the file is complete

	// Records appended after the end record by the queue manager. They are
	// written with one write each; a crash may leave the last one cut short,
	// and the reader then ignores it.
	recDefer = 'F' // recipient index, NUL, attempt time (µs), NUL, dsn, NUL, relay, NUL, text, NUL, remote reply
	recRetry = 'Y' // attempt time (µs), NUL, backoff (µs): the message was deferred
	recWarn  = 'W' // time (µs): the delay warning was sent
)

// Recipient status bytes, rewritten in place.
const (
	StatusPending byte = 'P'
	StatusDone    byte = 'D'
)

// DSN NOTIFY bits (RFC 3461 §4.1); zero means the parameter was not given.
const (
	NotifyNever   byte = 1 << 0
	NotifySuccess byte = 1 << 1
	NotifyFailure byte = 1 << 2
	NotifyDelay   byte = 1 << 3
)

// maxRecord bounds a non-content record, so that a damaged length cannot make
// a reader allocate gigabytes.
const maxRecord = 1 << 20

// Defer is why a recipient's last delivery attempt failed temporarily, kept
// so that a later delay warning or expiry notice can say why.
type Defer struct {
	Index  int // the recipient's position in the file
	Time   time.Time
	DSN    string // "4.4.1"
	Relay  string // "mx.example[192.0.2.1]:25", "virtual", "none"
	Text   string
	Remote string // the remote server's reply, for Diagnostic-Code, or ""
}

// Envelope is everything in a queue file but the content.
type Envelope struct {
	Arrival    time.Time
	Sender     string
	Attrs      []Attr // in file order; see the Attr* names
	Recipients []Recipient
}

// Attr is one name=value envelope attribute (client, protocol, DSN ENVID and
// RET, SMTPUTF8, ...).
type Attr struct{ Name, Value string }

// Well-known attribute names.
const (
	AttrClientName    = "client_name"
	AttrClientAddr    = "client_address"
	AttrHelo          = "helo_name"
	AttrProtocol      = "protocol"
	AttrSASLUser      = "sasl_username"
	AttrEnvID         = "envid"
	AttrRet           = "ret"
	AttrSMTPUTF8      = "smtputf8"
	AttrBody          = "body"
	AttrLogClientAddr = "log_client_address"
)

// Attr returns the value of the first attribute with the name, or "".
func (e *Envelope) Attr(name string) string {
	for _, a := range e.Attrs {
		if a.Name == name {
			return a.Value
		}
	}
	return ""
}

// Recipient is one envelope recipient.
type Recipient struct {
	Address  string
	Original string // the address before rewriting and alias expansion (orig_to=); "" if the same
	ORCPT    string // DSN ORCPT as received, "rfc822;addr" (RFC 3461 §4.2), or ""
	Notify   byte
	Status   byte
	offset   int64 // of the status byte in the file
}

// Offset is where the recipient's status byte lives in the file.
func (r Recipient) Offset() int64 { return r.offset }

// ErrCorrupt marks a queue file that does not parse.
var ErrCorrupt = errors.New("corrupt queue file")

// ErrIncomplete marks a queue file without its end record: its writer died
// before the message was acknowledged.
var ErrIncomplete = errors.New("incomplete queue file")

// Encoder writes a queue file sequentially. The caller streams the content
// between BeginContent and EndContent.
type Encoder struct {
	w        io.WriterAt
	off      int64 // logical end: written plus pending
	contOff  int64 // offset of the content length field
	err      error
	buf      []byte
	contDone bool
	// pend holds bytes not yet written, starting at file offset off -
	// len(pend): a small message becomes one write instead of one per
	// record.
	pend []byte
}

// encoderBuffer bounds the pending bytes.
const encoderBuffer = 64 << 10

// NewEncoder starts a queue file on w at offset 0 with the envelope's
// arrival, sender and attributes.
func NewEncoder(w io.WriterAt, env *Envelope) *Encoder {
	e := &Encoder{w: w}
	e.write([]byte(magic))
	e.record(recArrival, strconv.FormatInt(env.Arrival.UnixMicro(), 10))
	e.record(recSender, env.Sender)
	for _, a := range env.Attrs {
		e.record(recAttr, a.Name+"="+a.Value)
	}
	return e
}

func (e *Encoder) write(p []byte) {
	if e.err != nil {
		return
	}
	if len(e.pend)+len(p) > encoderBuffer {
		e.flush()
		if len(p) >= encoderBuffer {
			if e.err == nil {
				_, e.err = e.w.WriteAt(p, e.off)
			}
			e.off += int64(len(p))
			return
		}
	}
	e.pend = append(e.pend, p...)
	e.off += int64(len(p))
}

// flush writes the pending bytes.
func (e *Encoder) flush() {
	if e.err == nil && len(e.pend) > 0 {
		_, e.err = e.w.WriteAt(e.pend, e.off-int64(len(e.pend)))
	}
	e.pend = e.pend[:0]
}

func (e *Encoder) record(typ byte, payload string) {
	if len(payload) > maxRecord && e.err == nil {
		e.err = fmt.Errorf("record %c of %d bytes is too long", typ, len(payload))
		return
	}
	e.buf = append(e.buf[:0], typ)
	e.buf = binary.AppendUvarint(e.buf, uint64(len(payload)))
	e.buf = append(e.buf, payload...)
	e.write(e.buf)
}

// Content returns a writer for the message content. Call EndContent when
// the content is complete; recipients may be added before or after it.
func (e *Encoder) Content() io.Writer {
	e.write([]byte{recContent})
	e.contOff = e.off
	e.write(make([]byte, 8))
	return contentWriter{e}
}

type contentWriter struct{ e *Encoder }

func (c contentWriter) Write(p []byte) (int, error) {
	c.e.write(p)
	if c.e.err != nil {
		return 0, c.e.err
	}
	return len(p), nil
}

// EndContent patches the content record's length.
func (e *Encoder) EndContent() {
	if e.err != nil {
		return
	}
	if e.contOff == 0 || e.contDone {
		e.err = errors.New("EndContent without Content")
		return
	}
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(e.off-(e.contOff+8)))
	if start := e.off - int64(len(e.pend)); e.contOff >= start {
		copy(e.pend[e.contOff-start:], n[:]) // still pending: patch in memory
	} else {
		_, e.err = e.w.WriteAt(n[:], e.contOff)
	}
	e.contDone = true
}

// AddRecipient appends a recipient record.
func (e *Encoder) AddRecipient(r Recipient) {
	if e.contOff != 0 && !e.contDone && e.err == nil {
		e.err = errors.New("recipient inside the content")
	}
	if strings.ContainsRune(r.Address+r.Original+r.ORCPT, 0) {
		if e.err == nil {
			e.err = fmt.Errorf("recipient %q: NUL in address", r.Address)
		}
		return
	}
	status := r.Status
	if status == 0 {
		status = StatusPending
	}
	payload := string([]byte{status, r.Notify}) + r.Address + "\x00" + r.Original + "\x00" + r.ORCPT
	e.record(recRecipient, payload)
}

// Finish writes the end record. It does not sync: the caller owns the file
// and its durability.
func (e *Encoder) Finish() error {
	if e.err == nil && !e.contDone {
		e.err = errors.New("queue file has no complete content record")
	}
	e.record(recEnd, "")
	e.flush()
	return e.err
}

// Size is the number of bytes written so far.
func (e *Encoder) Size() int64 { return e.off }

// Appender adds records after the end record of a complete queue file. It
// collects them and writes them with one write at the file's End, after
// cutting off whatever a crash left of an earlier append.
type Appender struct {
	buf []byte
	err error
}

func (a *Appender) record(typ byte, fields ...string) {
	payload := strings.Join(fields, "\x00")
	if len(payload) > maxRecord {
		payload = payload[:maxRecord]
	}
	a.buf = append(a.buf, typ)
	a.buf = binary.AppendUvarint(a.buf, uint64(len(payload)))
	a.buf = append(a.buf, payload...)
}

func micros(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }

// clean keeps a free-text field from containing the field separator.
func clean(s string) string { return strings.ReplaceAll(s, "\x00", " ") }

// Defer records a recipient's temporary failure.
func (a *Appender) Defer(d Defer) {
	a.record(recDefer, strconv.Itoa(d.Index), micros(d.Time), clean(d.DSN), clean(d.Relay), clean(d.Text), clean(d.Remote))
}

// Retry records that the message was deferred at attempt, to be tried again
// after backoff.
func (a *Appender) Retry(attempt time.Time, backoff time.Duration) {
	a.record(recRetry, micros(attempt), strconv.FormatInt(backoff.Microseconds(), 10))
}

// DelayWarned records that the sender was warned of the delay.
func (a *Appender) DelayWarned(t time.Time) { a.record(recWarn, micros(t)) }

// Len is the number of bytes collected.
func (a *Appender) Len() int { return len(a.buf) }

// Truncater is a file that can be cut, as *os.File.
type Truncater interface {
	io.WriterAt
	Truncate(size int64) error
}

// WriteTo writes the records at end (File.End) and returns the new end. The
// caller syncs the file.
func (a *Appender) WriteTo(f Truncater, end int64) (int64, error) {
	if err := f.Truncate(end); err != nil {
		return end, fmt.Errorf("queue file: truncate: %w", err)
	}
	if _, err := f.WriteAt(a.buf, end); err != nil {
		return end, fmt.Errorf("queue file: append: %w", err)
	}
	return end + int64(len(a.buf)), nil
}
