package imapd

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"time"

	"mailhorn/internal/message"
	"mailhorn/internal/store"
)

// checkFlags validates and canonicalises flags for STORE and APPEND.
func checkFlags(flags []string) ([]string, error) {
	out := make([]string, 0, len(flags))
	for _, f := range flags {
		if strings.HasPrefix(f, `\`) {
			canon := ""
			for _, sf := range systemFlags {
				if strings.EqualFold(f, sf) {
					canon = sf
				}
			}
			if canon == "" {
				return nil, bad("Invalid system flag " + f)
			}
			f = canon
		} else {
			for i := 0; i < len(f); i++ {
				if !isAtomChar(f[i]) {
					return nil, bad("Invalid keyword")
				}
			}
		}
		out = append(out, f)
	}
	return out, nil
}

func (s *session) cmdStore(c *cmd) error {
	p := c.p
	if err := p.sp(); err != nil {
		return err
	}
	set, err := parseSeqSet(p.word(":,*$"))
	if err != nil {
		return err
	}
	if err := p.sp(); err != nil {
		return err
	}
	var unchangedSince uint64
	hasUnchanged := false
	if p.peek() == '(' {
		err := p.list(func() error {
			a, err := p.atom()
			if err != nil || !strings.EqualFold(a, "UNCHANGEDSINCE") {
				return errSyntax("unknown STORE modifier")
			}
			if err := p.sp(); err != nil {
				return err
			}
			unchangedSince, err = p.number()
			hasUnchanged = true
			return err
		})
		if err != nil {
			return err
		}
		if err := p.sp(); err != nil {
			return err
		}
	}
	item, err := p.atom()
	if err != nil {
		return err
	}
	item = strings.ToUpper(item)
	op := store.FlagsSet
	switch {
	case strings.HasPrefix(item, "+"):
		op, item = store.FlagsAdd, item[1:]
	case strings.HasPrefix(item, "-"):
		op, item = store.FlagsRemove, item[1:]
	}
	silent := false
	switch item {
	case "FLAGS":
	case "FLAGS.SILENT":
		silent = true
	default:
		return errSyntax("unknown STORE item")
	}
	if err := p.sp(); err != nil {
		return err
	}
	flags, err := p.flagList(true)
	if err != nil {
		return err
	}
	if err := p.end(); err != nil {
		return err
	}
	if flags, err = checkFlags(flags); err != nil {
		return err
	}
	if s.readOnly {
		return no("", "Mailbox is read-only.")
	}
	if hasUnchanged {
		s.condstore = true
	}
	idx, err := s.resolve(set, c.uid)
	if err != nil {
		return err
	}
	msgs := s.mbox.Messages()
	uids := make([]uint32, len(idx))
	for j, i := range idx {
		uids[j] = msgs[i].UID
	}
	if len(uids) == 0 {
		return nil
	}
	kwBefore := len(s.mbox.Keywords())
	// unchangedSince 0 is a real condition ("UNCHANGEDSINCE 0" fails for
	// every message); the store's 0 means none, so it is handled here.
	var failed []uint32
	if hasUnchanged && unchangedSince == 0 {
		failed, uids = uids, nil
	} else if failed, err = s.mbox.Store(s.ctx, uids, op, flags, unchangedSince); err != nil {
		return s.storeError("store", err)
	}
	msgs = s.mbox.Messages()
	b := s.buf[:0]
	if len(s.mbox.Keywords()) != kwBefore {
		b = s.appendFlagsResponses(b)
	}
	failedSet := map[uint32]bool{}
	for _, u := range failed {
		failedSet[u] = true
	}
	if !silent || s.condstore {
		for _, u := range uids {
			if failedSet[u] {
				continue
			}
			i, ok := findUID(msgs, u)
			if !ok {
				continue
			}
			m := &msgs[i]
			b = append(b, "* "...)
			b = strconv.AppendInt(b, int64(i+1), 10)
			b = append(b, " FETCH ("...)
			if c.uid || s.qresync {
				b = append(b, "UID "...)
				b = strconv.AppendUint(b, uint64(u), 10)
				b = append(b, ' ')
			}
			if silent {
				b = append(b, "MODSEQ ("...)
				b = strconv.AppendUint(b, m.ModSeq, 10)
				b = append(b, "))\r\n"...)
				continue
			}
			b = append(b, "FLAGS "...)
			b = appendFlagList(b, m.Flags)
			if s.condstore {
				b = append(b, " MODSEQ ("...)
				b = strconv.AppendUint(b, m.ModSeq, 10)
				b = append(b, ')')
			}
			b = append(b, ")\r\n"...)
		}
	}
	s.buf = b
	if err := s.writeBuf(); err != nil {
		return err
	}
	if len(failed) > 0 {
		nums := failed
		if !c.uid {
			nums = nil
			for _, u := range failed {
				if i, ok := findUID(msgs, u); ok {
					nums = append(nums, uint32(i+1))
				}
			}
		}
		c.okCode = string(appendNumSet([]byte("MODIFIED "), uidSetSorted(nums)))
		c.okText = "Conditional STORE failed."
	}
	return nil
}

// setArgs reads "set SP mailbox" of COPY and MOVE.
func (s *session) copyArgs(c *cmd) ([]uint32, string, error) {
	p := c.p
	if err := p.sp(); err != nil {
		return nil, "", err
	}
	set, err := parseSeqSet(p.word(":,*$"))
	if err != nil {
		return nil, "", err
	}
	dest, err := s.spMailbox(p)
	if err != nil {
		return nil, "", err
	}
	if err := p.end(); err != nil {
		return nil, "", err
	}
	idx, err := s.resolve(set, c.uid)
	if err != nil {
		return nil, "", err
	}
	msgs := s.mbox.Messages()
	uids := make([]uint32, len(idx))
	for j, i := range idx {
		uids[j] = msgs[i].UID
	}
	return uids, dest, nil
}

func (s *session) copyError(err error) error {
	if errors.Is(err, store.ErrNoMailbox) {
		return no("TRYCREATE", "Mailbox doesn't exist.")
	}
	return s.storeError("copy", err)
}

func appendCopyUID(b []byte, v uint32, src, dst []uint32) []byte {
	b = append(b, "COPYUID "...)
	b = strconv.AppendUint(b, uint64(v), 10)
	b = append(b, ' ')
	b = appendNumSet(b, src)
	b = append(b, ' ')
	return appendNumSet(b, dst)
}

func (s *session) cmdCopy(c *cmd) error {
	uids, dest, err := s.copyArgs(c)
	if err != nil {
		return err
	}
	if len(uids) == 0 {
		c.okText = "No messages found."
		return nil
	}
	v, src, dst, err := s.mbox.CopyTo(s.ctx, uids, dest)
	if err != nil {
		return s.copyError(err)
	}
	c.okCode = string(appendCopyUID(nil, v, src, dst))
	c.okText = "Copy completed."
	return nil
}

func (s *session) cmdMove(c *cmd) error {
	uids, dest, err := s.copyArgs(c)
	if err != nil {
		return err
	}
	if s.readOnly {
		return no("", "Mailbox is read-only.")
	}
	if len(uids) == 0 {
		c.okText = "No messages found."
		return nil
	}
	kw := len(s.mbox.Keywords())
	v, src, dst, ch, err := s.mbox.MoveTo(s.ctx, uids, dest)
	if err != nil {
		return s.copyError(err)
	}
	s.buf = append(s.buf[:0], "* OK ["...)
	s.buf = appendCopyUID(s.buf, v, src, dst)
	s.buf = append(s.buf, "] Moved UIDs.\r\n"...)
	if err := s.writeBuf(); err != nil {
		return err
	}
	s.dropSaved(ch.ExpungedUIDs)
	return s.reportChanges(ch, kw)
}

// dropSaved removes expunged UIDs from the saved search result.
func (s *session) dropSaved(gone []uint32) {
	if len(s.saved) == 0 || len(gone) == 0 {
		return
	}
	g := map[uint32]bool{}
	for _, u := range gone {
		g[u] = true
	}
	keep := s.saved[:0]
	for _, u := range s.saved {
		if !g[u] {
			keep = append(keep, u)
		}
	}
	s.saved = keep
}

func (s *session) cmdExpunge(c *cmd) error {
	p := c.p
	var uids []uint32
	if c.uid {
		if err := p.sp(); err != nil {
			return err
		}
		set, err := parseSeqSet(p.word(":,*$"))
		if err != nil {
			return err
		}
		idx, err := s.resolve(set, true)
		if err != nil {
			return err
		}
		msgs := s.mbox.Messages()
		uids = make([]uint32, 0, len(idx))
		for _, i := range idx {
			uids = append(uids, msgs[i].UID)
		}
		if len(uids) == 0 {
			return p.end()
		}
	}
	if err := p.end(); err != nil {
		return err
	}
	if s.readOnly {
		return no("", "Mailbox is read-only.")
	}
	kw := len(s.mbox.Keywords())
	ch, err := s.mbox.Expunge(s.ctx, uids)
	if err != nil {
		return s.storeError("expunge", err)
	}
	s.dropSaved(ch.ExpungedUIDs)
	return s.reportChanges(ch, kw)
}

// appendMsg is one message of APPEND (MULTIAPPEND: several).
type appendMsg struct {
	flags []string
	date  time.Time
	data  []byte
}

func (s *session) cmdAppend(c *cmd) error {
	p := c.p
	name, err := s.spMailbox(p)
	if err != nil {
		return err
	}
	var list []appendMsg
	for p.trySP() {
		var m appendMsg
		if p.peek() == '(' {
			if m.flags, err = p.flagList(false); err != nil {
				return err
			}
			if m.flags, err = checkFlags(m.flags); err != nil {
				return err
			}
			if err := p.sp(); err != nil {
				return err
			}
		}
		if p.peek() == '"' {
			ds, err := p.quoted()
			if err != nil {
				return err
			}
			if m.date, err = time.Parse(internalDateLayout, ds); err != nil {
				if m.date, err = time.Parse("2-Jan-2006 15:04:05 -0700", ds); err != nil {
					return errSyntax("bad date-time %q", ds)
				}
			}
			if err := p.sp(); err != nil {
				return err
			}
		}
		literal8 := p.peek() == '~'
		lit, ok, err := p.literal()
		if err != nil {
			return err
		}
		if !ok {
			return errSyntax("expected a message literal")
		}
		if len(lit) == 0 {
			return no("", "Can't save a zero byte message.")
		}
		if literal8 {
			// Binary content (RFC 3516 §4.4): its binary parts are
			// stored in base64, which lines cannot alter.
			if lit, _, err = message.BinaryToBase64(lit); err != nil {
				return s.storeError("append", err)
			}
		}
		m.data = lit
		if m.date.IsZero() {
			m.date = time.Now()
		}
		list = append(list, m)
	}
	if err := p.end(); err != nil {
		return err
	}
	if len(list) == 0 {
		return errSyntax("missing message")
	}
	var v uint32
	var uids []uint32
	for _, m := range list {
		uv, uid, err := s.user.Append(s.ctx, name, bytes.NewReader(m.data), m.flags, m.date)
		if err != nil {
			s.undoAppend(name, uids)
			if errors.Is(err, store.ErrNoMailbox) {
				return no("TRYCREATE", "Mailbox doesn't exist.")
			}
			return s.storeError("append", err)
		}
		v = uv
		uids = append(uids, uid)
	}
	c.okCode = "APPENDUID " + strconv.FormatUint(uint64(v), 10) + " " + string(appendNumSet(nil, uids))
	c.okText = "Append completed."
	return nil
}

// undoAppend removes the messages a failed MULTIAPPEND already added: it
// is all or nothing (RFC 3502 §6.3.11).
func (s *session) undoAppend(name string, uids []uint32) {
	if len(uids) == 0 {
		return
	}
	mb, err := s.user.Open(s.ctx, name)
	if err != nil {
		return
	}
	defer mb.Close()
	if _, err := mb.Sync(s.ctx); err != nil {
		return
	}
	if _, err := mb.Store(s.ctx, uids, store.FlagsAdd, []string{store.FlagDeleted}, 0); err == nil {
		mb.Expunge(s.ctx, uids)
	}
}

// cmdIdle: RFC 2177 / RFC 9051 §6.3.13. Updates are sent as the store
// signals them, and every Options.IdleSync for changes by other programs.
func (s *session) cmdIdle(c *cmd) error {
	if err := c.p.end(); err != nil {
		return err
	}
	s.w.WriteString("+ idling\r\n")
	if err := s.w.Flush(); err != nil {
		return err
	}
	done := make(chan error, 1)
	s.waiting.Store(true)
	s.noFlush.Store(true)
	go func() {
		line, err := s.cr.readLine()
		if err == nil && !strings.EqualFold(string(line), "DONE") {
			err = errBadDone
		}
		done <- err
	}()
	defer s.waiting.Store(false)
	var updates <-chan struct{}
	if s.mbox != nil {
		updates = s.mbox.Updates()
	}
	tick := time.NewTicker(s.opt.IdleSync)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			s.noFlush.Store(false)
			if errors.Is(err, errBadDone) {
				return bad("Expected DONE.")
			}
			if err != nil {
				return err
			}
			c.okText = "Idle completed."
			return nil
		case <-updates:
		case <-tick.C:
			if s.mbox == nil {
				continue
			}
		case <-s.ctx.Done():
			s.bye("Server shutting down.")
			s.w.Flush()
			return errHangup
		}
		if s.mbox != nil {
			if err := s.sendUpdates(true); err != nil {
				return err
			}
			if err := s.w.Flush(); err != nil {
				return err
			}
		}
	}
}

var errBadDone = errors.New("expected DONE")

// Quotas (RFC 9208): one root, "", for the user's whole tree.

func (s *session) quotaLimited() bool {
	q := s.user.Quota()
	return q.Messages > 0 || q.Bytes > 0
}

func (s *session) appendQuota(b []byte) ([]byte, error) {
	q := s.user.Quota()
	u, err := s.user.Usage(s.ctx)
	if err != nil {
		return nil, s.storeError("quota", err)
	}
	b = append(b, "* QUOTA \"\" ("...)
	sp := false
	if q.Bytes > 0 {
		b = append(b, "STORAGE "...)
		b = strconv.AppendInt(b, (u.Bytes+1023)/1024, 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, q.Bytes/1024, 10)
		sp = true
	}
	if q.Messages > 0 {
		if sp {
			b = append(b, ' ')
		}
		b = append(b, "MESSAGE "...)
		b = strconv.AppendInt(b, u.Messages, 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, q.Messages, 10)
	}
	return append(b, ")\r\n"...), nil
}

func (s *session) cmdGetQuotaRoot(c *cmd) error {
	p := c.p
	name, err := s.spMailbox(p)
	if err != nil {
		return err
	}
	if err := p.end(); err != nil {
		return err
	}
	if _, err := s.user.Status(s.ctx, name); err != nil {
		return s.storeError("getquotaroot", err)
	}
	b := append(s.buf[:0], "* QUOTAROOT "...)
	b = s.appendMailbox(b, name)
	if s.quotaLimited() {
		b = append(b, " \"\"\r\n"...)
		if b, err = s.appendQuota(b); err != nil {
			return err
		}
	} else {
		b = append(b, "\r\n"...)
	}
	s.buf = b
	return s.writeBuf()
}

func (s *session) cmdGetQuota(c *cmd) error {
	p := c.p
	if err := p.sp(); err != nil {
		return err
	}
	root, err := p.astring()
	if err != nil {
		return err
	}
	if err := p.end(); err != nil {
		return err
	}
	if root != "" || !s.quotaLimited() {
		return no("NONEXISTENT", "Quota root doesn't exist.")
	}
	b, err := s.appendQuota(s.buf[:0])
	if err != nil {
		return err
	}
	s.buf = b
	return s.writeBuf()
}

func (s *session) cmdSetQuota(c *cmd) error {
	return no("NOPERM", "Quota is set by the administrator.")
}
