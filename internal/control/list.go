package control

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"

	"mailhorn/internal/address"
	"mailhorn/internal/queue"
)

// ListOptions tune ListQueue.
type ListOptions struct {
	// Active tells which messages the queue manager is delivering; nil
	// when none is (the system is stopped).
	Active func(id string) bool
	// EmptyAddress stands for the null sender.
	EmptyAddress string
}

// ListQueue reads the queue as showq(8) does: maildrop/ (file owner and size
// only: its contents are untrusted until pickup), then incoming/, deferred/
// and hold/, each in arrival order. Files being written, removed meanwhile
// or not parsing are skipped: the queue manager deals with them.
func ListQueue(ctx context.Context, q *queue.Queue, o ListOptions, fn func(Message) error) error {
	if err := listMaildrop(q.Dir(), fn); err != nil {
		return err
	}
	for _, name := range []string{queue.Incoming, queue.Deferred, queue.Hold} {
		ents, err := q.Scan(name)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := ctx.Err(); err != nil {
				return err
			}
			f, err := q.Read(name, e.ID)
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, queue.ErrIncomplete) || errors.Is(err, queue.ErrCorrupt) {
				continue
			}
			if err != nil {
				return err
			}
			shown := name
			if name != queue.Hold && o.Active != nil && o.Active(e.ID) {
				shown = queue.Active
			}
			if err := fn(Describe(shown, e.ID, f, o.EmptyAddress)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Describe is a queue file as listed: addresses in external form with
// unprintable characters replaced by '?', only pending recipients, each with
// the reason of its last deferral.
func Describe(queueName, id string, f *queue.File, emptyAddress string) Message {
	m := Message{
		QueueName:   queueName,
		QueueID:     id,
		ArrivalTime: f.Arrival.Unix(),
		MessageSize: f.ContentSize,
		Sender:      External(f.Sender, emptyAddress),
		Recipients:  []Recipient{},
	}
	for i, r := range f.Recipients {
		if r.Status != queue.StatusPending {
			continue
		}
		rc := Recipient{Address: External(r.Address, emptyAddress)}
		if d, ok := f.Defers[i]; ok {
			rc.DelayReason = Printable(d.Text)
		}
		m.Recipients = append(m.Recipients, rc)
	}
	return m
}

// External is an internal-form address as the queue tools print it
// (quote_822_local, then printable); the null address is emptyAddress.
func External(addr, emptyAddress string) string {
	if addr == "" {
		return emptyAddress
	}
	return Printable(address.FromInternal(addr).String())
}

// Printable replaces control characters and invalid UTF-8 by '?', as
// Postfix's printable() does with SMTPUTF8 enabled, so that a hostile
// address cannot send escape sequences to an administrator's terminal.
func Printable(s string) string {
	ok := true
	for _, c := range s {
		if c == utf8.RuneError || unicode.IsControl(c) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c, n := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError || unicode.IsControl(c) {
			b.WriteByte('?')
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// listMaildrop lists maildrop/ files by owner, size and time, without
// reading them.
func listMaildrop(dir string, fn func(Message) error) error {
	md := filepath.Join(dir, queue.Maildrop)
	ents, err := os.ReadDir(md)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("queue: scan %s: %w", md, err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || Printable(e.Name()) != e.Name() {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("queue: scan %s: %w", md, err)
		}
		m := Message{
			QueueName: queue.Maildrop, QueueID: e.Name(), ArrivalTime: info.ModTime().Unix(),
			MessageSize: info.Size(), Recipients: []Recipient{},
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			uid := int(st.Uid)
			m.SenderUID = &uid
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}
