package maildrop

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"mailhorn/internal/cleanup"
	"mailhorn/internal/durable"
	"mailhorn/internal/queue"
)

// Attribute names of a maildrop file (see doc.go). envid, ret, body and
// smtputf8 are the queue file's own (queue.AttrEnvID, ...).
const (
	AttrSenderGiven    = "sender_given"
	AttrFullName       = "fullname"
	AttrRewriteContext = "rewrite_context"
)

// Limits on the fields of a maildrop file: the reader refuses longer ones.
const (
	MaxField = 2048 // an address, the full name
	MaxEnvID = 100  // RFC 3461 §4.4 ENVID, as Postfix's sendmail -V
)

// Envelope is what sendmail says about a message, besides its content.
type Envelope struct {
	// Sender is the envelope sender in internal form ("" the null
	// sender); it counts only when SenderGiven.
	Sender      string
	SenderGiven bool
	FullName    string // sendmail -F, for an added From: header
	Remote      bool   // sendmail -G: rewrite in the remote context
	EnvID       string // DSN ENVID (-V)
	Ret         string // DSN RET: "", "FULL" or "HDRS"
	Body        string // "", "7BIT", "8BITMIME" or "BINARYMIME" (-B)
	SMTPUTF8    bool
	Recipients  []cleanup.Recipient
}

// File is a decoded maildrop file: its envelope, and where its content lies.
type File struct {
	Envelope
	ContentOffset int64
	ContentSize   int64
}

// ErrCorrupt marks a maildrop file that does not parse or breaks a rule.
var ErrCorrupt = errors.New("corrupt maildrop file")

// ErrTooBig is the writer's answer when the file would pass the size limit
// (message_size_limit): Postfix's "message file too big".
var ErrTooBig = errors.New("message file too big")

// nameTimeDigits and nameRandDigits make up a file name: the submission
// time in microseconds, then 128 random bits, in upper-case hex.
const (
	nameTimeDigits = 13
	nameRandDigits = 32
	nameLen        = nameTimeDigits + nameRandDigits
	// TempPrefix starts the name of a file being written.
	TempPrefix = "tmp."
)

// ValidName tells whether name is the final name of a maildrop file.
func ValidName(name string) bool {
	if len(name) != nameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// IsTemp tells whether name is a file still being written (or left behind
// by a writer that died).
func IsTemp(name string) bool {
	return strings.HasPrefix(name, TempPrefix) && ValidName(name[len(TempPrefix):])
}

func newName(now time.Time) (string, error) {
	var r [nameRandDigits / 2]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	return fmt.Sprintf("%0*X", nameTimeDigits, now.UnixMicro()&(1<<52-1)) + strings.ToUpper(hex.EncodeToString(r[:])), nil
}

// Writer is a maildrop file being written. Nothing is submitted until
// Commit returns nil; Abort (or a failed Commit) removes the file.
type Writer struct {
	dir, tmp, name string
	f              *os.File
	enc            *queue.Encoder
	limit          int64
	inContent      bool
	contentDone    bool
	content        contentWriter
	err            error
}

// Create starts a maildrop file in dir ($queue_directory/maildrop) with the
// envelope and its recipients. limit is message_size_limit: the whole file
// may not be larger (0: no limit).
func Create(dir string, env *Envelope, limit int64, now time.Time) (*Writer, error) {
	if err := checkEnvelope(env); err != nil {
		return nil, err
	}
	var attrs []queue.Attr
	attr := func(name, value string) {
		if value != "" {
			attrs = append(attrs, queue.Attr{Name: name, Value: value})
		}
	}
	sender := ""
	if env.SenderGiven {
		attr(AttrSenderGiven, "yes")
		sender = env.Sender
	}
	attr(AttrFullName, env.FullName)
	if env.Remote {
		attr(AttrRewriteContext, "remote")
	}
	attr(queue.AttrEnvID, env.EnvID)
	attr(queue.AttrRet, env.Ret)
	attr(queue.AttrBody, env.Body)
	if env.SMTPUTF8 {
		attr(queue.AttrSMTPUTF8, "yes")
	}
	for tries := 0; ; tries++ {
		name, err := newName(now)
		if err != nil {
			return nil, fmt.Errorf("maildrop: file name: %w", err)
		}
		tmp := filepath.Join(dir, TempPrefix+name)
		f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if errors.Is(err, fs.ErrExist) && tries < 3 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("maildrop: create file: %w", err)
		}
		// The umask must not hide the file from pickup.
		if err := f.Chmod(0o644); err != nil {
			f.Close()
			os.Remove(tmp)
			return nil, fmt.Errorf("maildrop: %w", err)
		}
		w := &Writer{dir: dir, tmp: tmp, name: name, f: f, limit: limit}
		w.enc = queue.NewEncoder(f, &queue.Envelope{Arrival: now, Sender: sender, Attrs: attrs})
		for _, r := range env.Recipients {
			w.AddRecipient(r)
		}
		return w, nil
	}
}

func (w *Writer) tooBig() bool { return w.limit > 0 && w.enc.Size() > w.limit }

// Name is the final name the file gets at Commit (Postfix's postdrop
// queue ID).
func (w *Writer) Name() string { return w.name }

// Content returns the writer for the message content; it fails with
// ErrTooBig once the file passes the limit.
func (w *Writer) Content() io.Writer {
	if !w.inContent {
		w.inContent = true
		w.content = contentWriter{w, w.enc.Content()}
	}
	return w.content
}

type contentWriter struct {
	w  *Writer
	cw io.Writer
}

func (c contentWriter) Write(p []byte) (int, error) {
	if c.w.err != nil {
		return 0, c.w.err
	}
	n, err := c.cw.Write(p)
	if err != nil {
		c.w.err = err
		return n, err
	}
	if c.w.tooBig() {
		c.w.err = ErrTooBig
		return n, ErrTooBig
	}
	return n, nil
}

// AddRecipient adds a recipient, before or after the content (sendmail -t
// adds the recipients it found in the headers after it).
func (w *Writer) AddRecipient(r cleanup.Recipient) {
	if w.err != nil {
		return
	}
	w.endContent()
	if err := checkRecipient(r); err != nil {
		w.err = err
		return
	}
	w.enc.AddRecipient(queue.Recipient{Address: r.Address, ORCPT: r.ORCPT, Notify: r.Notify})
}

// endContent closes the content record once the content is written.
func (w *Writer) endContent() {
	if w.inContent && !w.contentDone {
		w.enc.EndContent()
		w.contentDone = true
	}
}

// Commit finishes the file, syncs it, and gives it its final name, which
// it returns: from then on the file is pickup's.
func (w *Writer) Commit() (string, error) {
	err := w.err
	if err == nil {
		if !w.inContent {
			w.Content()
		}
		w.endContent()
		err = w.enc.Finish()
	}
	if err == nil && w.tooBig() {
		err = ErrTooBig
	}
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.tmp, filepath.Join(w.dir, w.name))
	}
	if err != nil {
		os.Remove(w.tmp)
		if errors.Is(err, ErrTooBig) {
			return "", err
		}
		return "", fmt.Errorf("maildrop: write file: %w", err)
	}
	// The maildrop directory is not readable by the users who write into
	// it, so most writers cannot sync it; the file's data is on disk, and
	// the rename is made durable by the file system's journal shortly.
	if serr := durable.SyncDir(w.dir); serr != nil && !errors.Is(serr, fs.ErrPermission) {
		return w.name, fmt.Errorf("maildrop: sync directory: %w", serr)
	}
	return w.name, nil
}

// Abort removes the file.
func (w *Writer) Abort() {
	w.f.Close()
	os.Remove(w.tmp)
}

// Decode reads and validates a maildrop file. Errors wrap ErrCorrupt.
func Decode(r io.ReaderAt, size int64) (*File, error) {
	qf, err := queue.Decode(r, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if qf.Defers != nil || !qf.LastAttempt.IsZero() || qf.DelayWarned || qf.End != size {
		return nil, fmt.Errorf("%w: records after the end record", ErrCorrupt)
	}
	f := &File{ContentOffset: qf.ContentOffset, ContentSize: qf.ContentSize}
	seen := map[string]bool{}
	for _, a := range qf.Attrs {
		if seen[a.Name] {
			return nil, fmt.Errorf("%w: attribute %s given twice", ErrCorrupt, a.Name)
		}
		seen[a.Name] = true
		if err := checkText(a.Name, a.Value, MaxField); err != nil {
			return nil, err
		}
		bad := false
		switch a.Name {
		case AttrSenderGiven:
			f.SenderGiven, bad = true, a.Value != "yes"
		case AttrFullName:
			f.FullName = a.Value
		case AttrRewriteContext:
			f.Remote, bad = a.Value == "remote", a.Value != "remote" && a.Value != "local"
		case queue.AttrEnvID:
			f.EnvID, bad = a.Value, len(a.Value) > MaxEnvID || !printableASCII(a.Value)
		case queue.AttrRet:
			f.Ret, bad = a.Value, a.Value != "FULL" && a.Value != "HDRS"
		case queue.AttrBody:
			f.Body, bad = a.Value, a.Value != "7BIT" && a.Value != "8BITMIME" && a.Value != "BINARYMIME"
		case queue.AttrSMTPUTF8:
			f.SMTPUTF8, bad = true, a.Value != "yes"
		}
		if bad {
			return nil, fmt.Errorf("%w: bad %s attribute %q", ErrCorrupt, a.Name, a.Value)
		}
	}
	if f.SenderGiven {
		if err := checkText("sender", qf.Sender, MaxField); err != nil {
			return nil, err
		}
		f.Sender = qf.Sender
	}
	for _, r := range qf.Recipients {
		if r.Status != queue.StatusPending || r.Original != "" {
			return nil, fmt.Errorf("%w: recipient %q: status or original address set", ErrCorrupt, r.Address)
		}
		cr := cleanup.Recipient{Address: r.Address, ORCPT: r.ORCPT, Notify: r.Notify}
		if err := checkRecipient(cr); err != nil {
			return nil, err
		}
		f.Recipients = append(f.Recipients, cr)
	}
	return f, nil
}

func checkEnvelope(env *Envelope) error {
	if env.SenderGiven {
		if err := checkText("sender", env.Sender, MaxField); err != nil {
			return err
		}
	}
	if err := checkText("full name", env.FullName, MaxField); err != nil {
		return err
	}
	if len(env.EnvID) > MaxEnvID || !printableASCII(env.EnvID) {
		return fmt.Errorf("%w: bad envelope ID %q", ErrCorrupt, env.EnvID)
	}
	return nil
}

func checkRecipient(r cleanup.Recipient) error {
	if err := checkText("recipient", r.Address, MaxField); err != nil {
		return err
	}
	if err := checkText("ORCPT", r.ORCPT, MaxField); err != nil {
		return err
	}
	n := r.Notify
	if n > queue.NotifyNever|queue.NotifySuccess|queue.NotifyFailure|queue.NotifyDelay ||
		n&queue.NotifyNever != 0 && n != queue.NotifyNever {
		return fmt.Errorf("%w: recipient %q: bad NOTIFY %d", ErrCorrupt, r.Address, n)
	}
	return nil
}

// checkText refuses control characters, invalid UTF-8 and overlong values.
func checkText(what, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%w: %s of %d bytes", ErrCorrupt, what, len(s))
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s %q: invalid UTF-8", ErrCorrupt, what, s)
	}
	for _, c := range s {
		if c < ' ' || c == 0x7f {
			return fmt.Errorf("%w: %s %s: control character", ErrCorrupt, what, strconv.Quote(s))
		}
	}
	return nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
