package pop3d

import (
	"errors"
	"fmt"
	"slices"

	"mailhorn/internal/store"
)

// UIDL returns the unique-id listing of a message (RFC 1939 §7): its
// mailbox's UIDVALIDITY and its UID, eight lower-case hex digits each,
// the same numbers IMAP shows, so stable for as long as they are.
func UIDL(uidValidity, uid uint32) string { return fmt.Sprintf("%08x%08x", uidValidity, uid) }

// message finds the message named by a number argument: its index, or
// false after answering -ERR.
func (s *session) message(n uint64) (int, bool) {
	if n == 0 || n > uint64(len(s.msgs)) {
		s.reply(fmt.Sprintf("-ERR There's no message %d.", n))
		return 0, false
	}
	i := int(n - 1)
	if s.deleted[i] {
		s.reply("-ERR Message is deleted.")
		return 0, false
	}
	return i, true
}

// msgArg parses a single message-number argument and finds the message.
func (s *session) msgArg(args string) (int, bool) {
	n, _, err := parseMsgArgs(args, false)
	if err != nil {
		s.reply("-ERR " + err.Error())
		return 0, false
	}
	return s.message(n)
}

func (s *session) cmdStat() error {
	s.reply(fmt.Sprintf("+OK %d %d", len(s.msgs)-s.nDeleted, s.total-s.delSize))
	return nil
}

func (s *session) cmdList(args string) error {
	if args != "" {
		i, ok := s.msgArg(args)
		if !ok {
			return errBad
		}
		s.reply(fmt.Sprintf("+OK %d %d", i+1, s.msgs[i].Size))
		return nil
	}
	s.reply(fmt.Sprintf("+OK %d messages:", len(s.msgs)-s.nDeleted))
	for i, m := range s.msgs {
		if !s.deleted[i] {
			s.reply(fmt.Sprintf("%d %d", i+1, m.Size))
		}
	}
	s.reply(".")
	return nil
}

func (s *session) cmdUidl(args string) error {
	if args != "" {
		i, ok := s.msgArg(args)
		if !ok {
			return errBad
		}
		s.reply(fmt.Sprintf("+OK %d %s", i+1, UIDL(s.uidValidity, s.msgs[i].UID)))
		return nil
	}
	s.reply("+OK")
	for i, m := range s.msgs {
		if !s.deleted[i] {
			s.reply(fmt.Sprintf("%d %s", i+1, UIDL(s.uidValidity, m.UID)))
		}
	}
	s.reply(".")
	return nil
}

func (s *session) cmdDele(args string) error {
	i, ok := s.msgArg(args)
	if !ok {
		return errBad
	}
	s.deleted[i] = true
	s.nDeleted++
	s.delSize += s.msgs[i].Size
	s.reply("+OK Marked to be deleted.")
	return nil
}

// cmdRset unmarks the deleted messages, and forgets which were retrieved
// (so QUIT flags none \Seen), as Dovecot does.
func (s *session) cmdRset() error {
	clear(s.deleted)
	clear(s.seen)
	s.nDeleted, s.delSize = 0, 0
	s.reply("+OK")
	return nil
}

func (s *session) cmdRetr(args string) error {
	i, ok := s.msgArg(args)
	if !ok {
		return errBad
	}
	n, err := s.send(i, -1, fmt.Sprintf("+OK %d octets", s.msgs[i].Size))
	if err != nil {
		return err
	}
	s.retrCount++
	s.retrBytes += n
	if !slices.Contains(s.msgs[i].Flags, store.FlagSeen) {
		s.seen[i] = true
	}
	return nil
}

func (s *session) cmdTop(args string) error {
	n, lines, err := parseMsgArgs(args, true)
	if err != nil {
		s.reply("-ERR " + err.Error())
		return errBad
	}
	i, ok := s.message(n)
	if !ok {
		return errBad
	}
	sent, err := s.send(i, int64(lines), "+OK")
	if err != nil {
		return err
	}
	s.topCount++
	s.topBytes += sent
	return nil
}

// send writes message i as a multi-line response after first (the +OK
// line), bodyLines as for writeMessage.
func (s *session) send(i int, bodyLines int64, first string) (int64, error) {
	rc, err := s.box.Open(s.msgs[i].UID)
	if err != nil {
		if errors.Is(err, store.ErrNoMessage) {
			// Expunged by another program since the snapshot.
			s.reply(fmt.Sprintf("-ERR Message %d expunged.", i+1))
			return 0, errBad
		}
		s.srv.Log.Error("pop3d: cannot open message", "user", s.login, "uid", s.msgs[i].UID, "err", err)
		s.reply("-ERR [SYS/TEMP] Couldn't read the message.")
		return 0, nil
	}
	defer rc.Close()
	s.reply(first)
	n, err := writeMessage(s.w, rc, bodyLines)
	if err != nil {
		// The +OK is out: the response cannot be finished truthfully.
		s.srv.Log.Error("pop3d: reading a message failed", "user", s.login, "uid", s.msgs[i].UID, "err", err)
		s.endReason = "Storage error while sending a message"
		return n, errHangup
	}
	return n, nil
}

// cmdQuit enters the UPDATE state (RFC 1939 §6): the retrieved messages
// are flagged \Seen, the marked ones flagged \Deleted and expunged, and
// +OK comes only once they are gone.
func (s *session) cmdQuit() error {
	var seen, del []uint32
	for i, m := range s.msgs {
		switch {
		case s.deleted[i]:
			del = append(del, m.UID)
		case s.seen[i]:
			seen = append(seen, m.UID)
		}
	}
	if err := s.update(seen, del); err != nil {
		s.srv.Log.Error("pop3d: update at QUIT failed", "user", s.login, "err", err)
		s.reply("-ERR [SYS/TEMP] Storage error during logout.")
		s.endReason = "Storage error during logout"
		return errHangup
	}
	if len(del) > 0 {
		s.reply("+OK Logging out, messages deleted.")
	} else {
		s.reply("+OK Logging out.")
	}
	s.endReason = "Logged out"
	return errHangup
}

func (s *session) update(seen, del []uint32) error {
	if len(seen) > 0 {
		if _, err := s.box.Store(s.ctx, seen, store.FlagsAdd, []string{store.FlagSeen}, 0); err != nil {
			return fmt.Errorf("flag retrieved messages \\Seen: %w", err)
		}
	}
	if len(del) > 0 {
		if _, err := s.box.Store(s.ctx, del, store.FlagsAdd, []string{store.FlagDeleted}, 0); err != nil {
			return fmt.Errorf("flag messages \\Deleted: %w", err)
		}
		if _, err := s.box.Expunge(s.ctx, del); err != nil {
			return fmt.Errorf("expunge deleted messages: %w", err)
		}
	}
	return nil
}
