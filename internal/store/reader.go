package store

// This file is the readers' API (imapd, pop3d): its declarations are the
// contract between the store and the access agents. Bodies marked
// "contract" are filled in by the store's implementation.

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"
)

// System flags, as IMAP spells them. Keywords are any other atom.
const (
	FlagSeen     = `\Seen`
	FlagAnswered = `\Answered`
	FlagFlagged  = `\Flagged`
	FlagDeleted  = `\Deleted`
	FlagDraft    = `\Draft`
)

// Special-use attributes (RFC 6154) of the folders created at first login.
const (
	UseSent    = `\Sent`
	UseDrafts  = `\Drafts`
	UseTrash   = `\Trash`
	UseJunk    = `\Junk`
	UseArchive = `\Archive`
)

// Delimiter is the IMAP hierarchy delimiter; on disk Maildir++ uses '.'.
const Delimiter = '/'

// Errors.
var (
	ErrNoMailbox   = errors.New("no such mailbox")
	ErrExists      = errors.New("mailbox already exists")
	ErrBadName     = errors.New("invalid mailbox name")
	ErrOverQuota   = errors.New("mailbox is over quota")
	ErrNoMessage   = errors.New("no such message")
	ErrInboxOnly   = errors.New("operation not allowed on INBOX")
	ErrHasChildren = errors.New("mailbox has children")
)

// Options configure a Store.
type Options struct {
	Log *slog.Logger // nil: discard
	// SpecialUse are the folders created at a user's first login, name ->
	// attribute ("Sent" -> `\Sent`); nil: Sent, Drafts, Trash, Junk,
	// Archive.
	SpecialUse map[string]string
	// Owner, when set, owns folders and files the store creates (the
	// process runs as root); nil: the process's own identity.
	Owner *Owner
}

// Quota limits a user's whole tree; zero fields are unlimited.
type Quota struct {
	Messages int64
	Bytes    int64
}

// Usage is what a user's tree holds.
type Usage struct {
	Messages int64
	Bytes    int64
}

// Store is the process's one message store for readers: it shares each
// mailbox's index between the sessions that have it open and wakes them
// when the mailbox changes.
type Store struct {
	impl *storeImpl
}

// New returns a Store.
func New(o Options) *Store { return newStore(o) }

// Notify tells the store that a Maildir folder (its root directory, the
// one holding new/ cur/ tmp/) has changed outside a Mailbox: a delivery
// agent wrote a message. Sessions with it open are woken at once. Changes
// by other programs are found by Sync without a Notify, at the latest when
// a session next syncs (IDLE checks periodically).
func (s *Store) Notify(maildir string) { s.impl.notify(maildir) }

// Close releases every index.
func (s *Store) Close() error { return s.impl.close() }

// OpenUser opens a user's tree rooted at root (the INBOX Maildir; other
// folders are Maildir++ ".Name" subdirectories). The first open creates
// the INBOX and the special-use folders if missing.
func (s *Store) OpenUser(ctx context.Context, root string, q Quota) (*User, error) {
	return s.impl.openUser(ctx, root, q)
}

// MailboxInfo is one LIST entry.
type MailboxInfo struct {
	Name        string // IMAP name with Delimiter; "INBOX" for the root
	SpecialUse  string // `\Sent`... or ""
	Subscribed  bool
	NoSelect    bool // an intermediate level without a folder of its own
	HasChildren bool
	// NonExistent: no folder of this name exists (RFC 5258 §3): a
	// subscription to a name with no folder (then Subscribed is set), or
	// an intermediate level (then NoSelect and HasChildren are set).
	// Implies NoSelect.
	NonExistent bool
}

// Status is a mailbox's STATUS / SELECT data.
type Status struct {
	UIDValidity   uint32
	UIDNext       uint32
	Messages      uint32
	Unseen        uint32 // messages without \Seen
	FirstUnseen   uint32 // sequence number of the first unseen message; 0 if none
	Deleted       uint32 // messages with \Deleted
	Size          int64  // sum of message sizes (RFC822.SIZE)
	HighestModSeq uint64
}

// Message is one message of a mailbox view.
type Message struct {
	UID          uint32
	Flags        []string // sorted; system flags and keywords
	ModSeq       uint64
	Size         int64 // RFC822.SIZE: the size with CRLF line endings
	InternalDate time.Time
}

// FlagOp is how Store changes flags.
type FlagOp int

const (
	FlagsSet FlagOp = iota
	FlagsAdd
	FlagsRemove
)

// User is one user's tree, opened for a session.
type User struct {
	impl *userImpl
}

// List returns every mailbox of the tree, INBOX first, then by name,
// with the intermediate levels of nested names and the subscribed names
// that have no folder (NonExistent).
func (u *User) List(ctx context.Context) ([]MailboxInfo, error) { return u.impl.list(ctx) }

// Create makes a mailbox (and missing parents as NoSelect levels are not
// needed in Maildir++). specialUse may be "".
func (u *User) Create(ctx context.Context, name, specialUse string) error {
	return u.impl.create(ctx, name, specialUse)
}

// Delete removes a mailbox and its messages; ErrInboxOnly for INBOX.
func (u *User) Delete(ctx context.Context, name string) error { return u.impl.delete(ctx, name) }

// Rename renames a mailbox and its children; renaming INBOX moves its
// messages into a new mailbox and leaves INBOX empty (RFC 9051 §6.3.6).
func (u *User) Rename(ctx context.Context, oldName, newName string) error {
	return u.impl.rename(ctx, oldName, newName)
}

// Subscribe adds (on) or removes a name from the subscriptions (the
// Maildir++ "subscriptions" file); the mailbox need not exist.
func (u *User) Subscribe(ctx context.Context, name string, on bool) error {
	return u.impl.subscribe(ctx, name, on)
}

// Status returns a mailbox's status without opening a view.
func (u *User) Status(ctx context.Context, name string) (Status, error) {
	return u.impl.status(ctx, name)
}

// Append adds a message to a mailbox (content with LF or CRLF line
// endings, stored as delivered files are) and returns the mailbox's
// UIDVALIDITY and the new UID. ErrOverQuota when the quota would be
// exceeded.
func (u *User) Append(ctx context.Context, name string, content io.Reader, flags []string, date time.Time) (uidValidity, uid uint32, err error) {
	return u.impl.appendMsg(ctx, name, content, flags, date)
}

// Usage is the tree's current use, for QUOTA and delivery checks.
func (u *User) Usage(ctx context.Context) (Usage, error) { return u.impl.usage(ctx) }

// Quota is the user's limit as given to OpenUser.
func (u *User) Quota() Quota { return u.impl.quota }

// Open opens a view of a mailbox for a session (SELECT / EXAMINE, POP3).
func (u *User) Open(ctx context.Context, name string) (*Mailbox, error) {
	return u.impl.open(ctx, name)
}

// Close releases the user's tree; open Mailboxes stay usable.
func (u *User) Close() error { return u.impl.close() }

// Mailbox is one session's view of a mailbox. Its message list (and so
// the sequence numbers) changes only in Sync, Expunge and MoveTo, never
// behind the session's back, as IMAP requires.
type Mailbox struct {
	impl *mailboxImpl
}

// Name is the mailbox's IMAP name.
func (m *Mailbox) Name() string { return m.impl.name }

// Status describes the view (Messages, Unseen... as of the last Sync).
func (m *Mailbox) Status() Status { return m.impl.status() }

// Messages is the view's messages in UID order: Messages()[i] has
// sequence number i+1. The slice must not be modified.
func (m *Mailbox) Messages() []Message { return m.impl.messages() }

// Keywords are the keywords in use in the mailbox (for FLAGS and
// PERMANENTFLAGS).
func (m *Mailbox) Keywords() []string { return m.impl.keywords() }

// Updates is signalled (never closed) when the mailbox may have changed:
// a delivery, another session's change. The session then calls Sync.
func (m *Mailbox) Updates() <-chan struct{} { return m.impl.updates }

// Changes is what a Sync found since the view's previous state.
type Changes struct {
	// Expunged are the sequence numbers of messages gone, each relative to
	// the list after the previous ones were removed, in the order to
	// report them (IMAP EXPUNGE responses).
	Expunged []uint32
	// UIDs of the Expunged messages (for VANISHED, QRESYNC), same order.
	ExpungedUIDs []uint32
	// New is the number of messages added at the end.
	New int
	// FlagsChanged are UIDs whose flags changed (FETCH FLAGS responses).
	FlagsChanged []uint32
}

// Sync brings the view up to date with the index and the disk (new files,
// files gone, flags changed in file names by other programs).
func (m *Mailbox) Sync(ctx context.Context) (Changes, error) { return m.impl.sync(ctx) }

// Open returns the content of a message with CRLF line endings; its
// length is Message.Size. The caller closes it.
func (m *Mailbox) Open(uid uint32) (io.ReadSeekCloser, error) { return m.impl.openMsg(uid) }

// Cache returns a value cached in the index for a message under a field
// name ("envelope", "bodystructure"...); the store keeps it as opaque
// bytes, persistently, until the message is expunged.
func (m *Mailbox) Cache(uid uint32, field string) ([]byte, bool) { return m.impl.cache(uid, field) }

// SetCache stores a cache value (written to the index lazily; losing it
// costs only a re-parse).
func (m *Mailbox) SetCache(uid uint32, field string, v []byte) { m.impl.setCache(uid, field, v) }

// Store changes the flags of the given messages, renaming their files
// (":2,FRS" info) and giving each changed message a new MODSEQ. With
// unchangedSince > 0 (CONDSTORE), messages whose MODSEQ is higher are left
// alone and returned in failed. The view reflects the new flags at once;
// other views see them at their next Sync.
func (m *Mailbox) Store(ctx context.Context, uids []uint32, op FlagOp, flags []string, unchangedSince uint64) (failed []uint32, err error) {
	return m.impl.store(ctx, uids, op, flags, unchangedSince)
}

// Expunge removes the given messages that have \Deleted (all of them when
// uids is nil) and returns the changes to report (Changes.Expunged).
func (m *Mailbox) Expunge(ctx context.Context, uids []uint32) (Changes, error) {
	return m.impl.expunge(ctx, uids)
}

// CopyTo copies messages to another mailbox of the same user, keeping
// flags and internal dates, and returns the destination's UIDVALIDITY and
// the source and destination UIDs in order (UIDPLUS). ErrOverQuota.
func (m *Mailbox) CopyTo(ctx context.Context, uids []uint32, dest string) (uidValidity uint32, src, dst []uint32, err error) {
	return m.impl.copyTo(ctx, uids, dest, false)
}

// MoveTo is CopyTo followed by removing the messages from this view (RFC
// 6851); the returned Changes lists them as for Expunge.
func (m *Mailbox) MoveTo(ctx context.Context, uids []uint32, dest string) (uidValidity uint32, src, dst []uint32, ch Changes, err error) {
	return m.impl.moveTo(ctx, uids, dest)
}

// Close ends the view.
func (m *Mailbox) Close() error { return m.impl.close() }
