package imapd

import (
	"strconv"
	"strings"

	"mailhorn/internal/store"
)

// matchPattern reports whether name matches a LIST pattern: "*" matches
// anything, "%" anything but the hierarchy delimiter (RFC 9051 §6.3.9).
func matchPattern(pattern, name string) bool {
	// prev[j]: pattern[:i] matches name[:j].
	prev := make([]bool, len(name)+1)
	cur := make([]bool, len(name)+1)
	prev[0] = true
	for i := 0; i < len(pattern); i++ {
		pc := pattern[i]
		cur[0] = prev[0] && (pc == '*' || pc == '%')
		for j := 1; j <= len(name); j++ {
			switch pc {
			case '*':
				cur[j] = prev[j] || cur[j-1]
			case '%':
				cur[j] = prev[j] || cur[j-1] && name[j-1] != byte(store.Delimiter)
			default:
				cur[j] = prev[j-1] && name[j-1] == pc
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(name)]
}

// canonPattern joins reference and pattern and spells INBOX in upper case.
func canonPattern(ref, pat string) string {
	full := pat
	if ref != "" && !strings.HasPrefix(pat, string(store.Delimiter)) {
		full = ref + pat
	}
	if len(full) >= 5 && strings.EqualFold(full[:5], "INBOX") && (len(full) == 5 || full[5] == byte(store.Delimiter)) {
		full = "INBOX" + full[5:]
	}
	return full
}

type listOpts struct {
	subscribedSel, recursive, specialSel   bool
	retSubscribed, retChildren, retSpecial bool
	status                                 []string
}

func (s *session) cmdList(c *cmd) error {
	p := c.p
	var o listOpts
	extended := false
	if err := p.sp(); err != nil {
		return err
	}
	if p.peek() == '(' {
		extended = true
		err := p.list(func() error {
			a, err := p.atom()
			if err != nil {
				return err
			}
			switch strings.ToUpper(a) {
			case "SUBSCRIBED":
				o.subscribedSel, o.retSubscribed = true, true
			case "RECURSIVEMATCH":
				o.recursive = true
			case "SPECIAL-USE":
				o.specialSel, o.retSpecial = true, true
			case "REMOTE":
			default:
				return errSyntax("unknown selection option %s", a)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if o.recursive && !o.subscribedSel {
			return errSyntax("RECURSIVEMATCH without another selection option")
		}
		if err := p.sp(); err != nil {
			return err
		}
	}
	ref, err := p.astring()
	if err != nil {
		return err
	}
	if err := p.sp(); err != nil {
		return err
	}
	var pats []string
	if p.peek() == '(' {
		extended = true
		err = p.list(func() error {
			pat, err := p.listMailbox()
			pats = append(pats, pat)
			return err
		})
	} else {
		var pat string
		pat, err = p.listMailbox()
		pats = append(pats, pat)
	}
	if err != nil {
		return err
	}
	if p.trySP() {
		a, err := p.atom()
		if err != nil || !strings.EqualFold(a, "RETURN") || p.sp() != nil {
			return errSyntax("expected RETURN")
		}
		extended = true
		err = p.list(func() error {
			a, err := p.atom()
			if err != nil {
				return err
			}
			switch strings.ToUpper(a) {
			case "SUBSCRIBED":
				o.retSubscribed = true
			case "CHILDREN":
				o.retChildren = true
			case "SPECIAL-USE":
				o.retSpecial = true
			case "STATUS":
				if err := p.sp(); err != nil {
					return err
				}
				o.status, err = statusItems(p)
				return err
			default:
				return errSyntax("unknown return option %s", a)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := p.end(); err != nil {
		return err
	}
	if !s.utf8 {
		if ref, err = decodeMUTF7(ref); err != nil {
			return bad("Invalid modified UTF-7 reference.")
		}
		for i := range pats {
			if pats[i], err = decodeMUTF7(pats[i]); err != nil {
				return bad("Invalid modified UTF-7 pattern.")
			}
		}
	}
	if len(pats) == 1 && pats[0] == "" {
		// The hierarchy delimiter and root (RFC 9051 §6.3.9).
		s.w.WriteString("* LIST (\\Noselect) \"/\" \"\"\r\n")
		return nil
	}
	boxes, err := s.user.List(s.ctx)
	if err != nil {
		return s.storeError("list", err)
	}
	subscribed := map[string]bool{}
	for _, b := range boxes {
		if b.Subscribed {
			subscribed[b.Name] = true
		}
	}
	for i := range pats {
		pats[i] = canonPattern(ref, pats[i])
	}
	for _, b := range boxes {
		matched := false
		for _, pat := range pats {
			if matchPattern(pat, b.Name) {
				matched = true
				break
			}
		}
		if !matched {
			continue
		}
		if b.NonExistent && !b.HasChildren && !o.subscribedSel {
			continue // only a subscription: RFC 5258 §3 lists it under SUBSCRIBED
		}
		// RECURSIVEMATCH: CHILDINFO for a name with a subscribed
		// descendant, whether or not it is subscribed itself (RFC 5258 §3).
		childInfo := false
		if o.subscribedSel && o.recursive {
			for name := range subscribed {
				if strings.HasPrefix(name, b.Name+string(store.Delimiter)) {
					childInfo = true
					break
				}
			}
		}
		if o.subscribedSel && !b.Subscribed && !childInfo {
			continue
		}
		if o.specialSel && b.SpecialUse == "" {
			continue
		}
		s.buf = s.appendListLine(s.buf[:0], b, o.retSubscribed && b.Subscribed, extended)
		if childInfo {
			s.buf = s.buf[:len(s.buf)-2]
			s.buf = append(s.buf, " (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"...)
		}
		if err := s.writeBuf(); err != nil {
			return err
		}
		if len(o.status) > 0 && !b.NoSelect {
			if err := s.writeStatus(b.Name, o.status); err != nil {
				return err
			}
		}
	}
	return nil
}

// appendListLine formats "* LIST (attrs) "/" name\r\n". A name without a
// mailbox is \NonExistent in the extended syntax (RFC 5258 §3; RFC 9051
// §7.3.1) and \Noselect in the plain one, as Dovecot answers; a name
// listed only for its subscription gets no children attribute.
func (s *session) appendListLine(b []byte, m store.MailboxInfo, subscribed, extended bool) []byte {
	b = append(b, "* LIST ("...)
	n := len(b)
	add := func(a string) {
		if len(b) > n {
			b = append(b, ' ')
		}
		b = append(b, a...)
	}
	switch {
	case m.NonExistent && extended:
		add(`\NonExistent`)
	case m.NoSelect:
		add(`\Noselect`)
	}
	switch {
	case m.HasChildren:
		add(`\HasChildren`)
	case !m.NonExistent:
		add(`\HasNoChildren`)
	}
	if subscribed {
		add(`\Subscribed`)
	}
	if m.SpecialUse != "" {
		add(m.SpecialUse)
	}
	b = append(b, ") \"/\" "...)
	b = s.appendMailbox(b, m.Name)
	return append(b, "\r\n"...)
}

func (s *session) cmdLsub(c *cmd) error {
	p := c.p
	if err := p.sp(); err != nil {
		return err
	}
	ref, err := p.astring()
	if err != nil {
		return err
	}
	if err := p.sp(); err != nil {
		return err
	}
	pat, err := p.listMailbox()
	if err != nil {
		return err
	}
	if err := p.end(); err != nil {
		return err
	}
	if !s.utf8 {
		ref, _ = decodeMUTF7(ref)
		pat, _ = decodeMUTF7(pat)
	}
	if pat == "" {
		s.w.WriteString("* LSUB (\\Noselect) \"/\" \"\"\r\n")
		return nil
	}
	boxes, err := s.user.List(s.ctx)
	if err != nil {
		return s.storeError("list", err)
	}
	full := canonPattern(ref, pat)
	for _, b := range boxes {
		if !b.Subscribed || !matchPattern(full, b.Name) {
			continue
		}
		s.buf = append(s.buf[:0], "* LSUB () \"/\" "...)
		s.buf = s.appendMailbox(s.buf, b.Name)
		s.buf = append(s.buf, "\r\n"...)
		if err := s.writeBuf(); err != nil {
			return err
		}
	}
	return nil
}

func (s *session) cmdCreate(c *cmd) error {
	p := c.p
	name, err := s.spMailbox(p)
	if err != nil {
		return err
	}
	use := ""
	if p.trySP() {
		// RFC 6154 §3: CREATE name (USE (\Sent)).
		err := p.list(func() error {
			a, err := p.atom()
			if err != nil || !strings.EqualFold(a, "USE") {
				return errSyntax("unknown CREATE parameter")
			}
			if err := p.sp(); err != nil {
				return err
			}
			flags, err := p.flagList(false)
			if err != nil {
				return err
			}
			for _, f := range flags {
				su, ok := specialUse(f)
				if !ok || use != "" {
					return no("USEATTR", "Unsupported special-use attribute.")
				}
				use = su
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := p.end(); err != nil {
		return err
	}
	if name == "INBOX" {
		return no("ALREADYEXISTS", "Mailbox already exists.")
	}
	if err := s.user.Create(s.ctx, name, use); err != nil {
		return s.storeError("create", err)
	}
	return nil
}

func specialUse(f string) (string, bool) {
	for _, u := range []string{store.UseSent, store.UseDrafts, store.UseTrash, store.UseJunk, store.UseArchive} {
		if strings.EqualFold(f, u) {
			return u, true
		}
	}
	return "", false
}

func (s *session) cmdDelete(c *cmd) error {
	p := c.p
	name, err := s.spMailbox(p)
	if err != nil {
		return err
	}
	if err := p.end(); err != nil {
		return err
	}
	if name == "INBOX" {
		return no("CANNOT", "INBOX can't be deleted.")
	}
	if s.mbox != nil && s.mbox.Name() == name {
		return no("INUSE", "Can't delete a selected mailbox.")
	}
	if err := s.user.Delete(s.ctx, name); err != nil {
		return s.storeError("delete", err)
	}
	return nil
}

func (s *session) cmdRename(c *cmd) error {
	p := c.p
	from, err := s.spMailbox(p)
	if err != nil {
		return err
	}
	to, err := s.spMailbox(p)
	if err != nil {
		return err
	}
	if err := p.end(); err != nil {
		return err
	}
	if to == "INBOX" {
		return no("ALREADYEXISTS", "Target mailbox already exists.")
	}
	if from == to || strings.HasPrefix(to, from+string(store.Delimiter)) {
		return no("CANNOT", "Can't rename mailbox under itself.")
	}
	if err := s.user.Rename(s.ctx, from, to); err != nil {
		return s.storeError("rename", err)
	}
	return nil
}

func (s *session) cmdSubscribe(c *cmd) error   { return s.subscribe(c, true) }
func (s *session) cmdUnsubscribe(c *cmd) error { return s.subscribe(c, false) }

func (s *session) subscribe(c *cmd, on bool) error {
	p := c.p
	name, err := s.spMailbox(p)
	if err != nil {
		return err
	}
	if err := p.end(); err != nil {
		return err
	}
	if err := s.user.Subscribe(s.ctx, name, on); err != nil {
		return s.storeError("subscribe", err)
	}
	return nil
}

// statusItems reads "(MESSAGES UIDNEXT ...)".
func statusItems(p *parser) ([]string, error) {
	var items []string
	err := p.list(func() error {
		a, err := p.atom()
		if err != nil {
			return err
		}
		a = strings.ToUpper(a)
		switch a {
		case "MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE", "RECENT", "HIGHESTMODSEQ":
			items = append(items, a)
		default:
			return errSyntax("unknown STATUS item %s", a)
		}
		return nil
	})
	if err == nil && len(items) == 0 {
		err = errSyntax("empty STATUS item list")
	}
	return items, err
}

func (s *session) cmdStatus(c *cmd) error {
	p := c.p
	name, err := s.spMailbox(p)
	if err != nil {
		return err
	}
	if err := p.sp(); err != nil {
		return err
	}
	items, err := statusItems(p)
	if err != nil {
		return err
	}
	if err := p.end(); err != nil {
		return err
	}
	return s.writeStatus(name, items)
}

func (s *session) writeStatus(name string, items []string) error {
	st, err := s.user.Status(s.ctx, name)
	if err != nil {
		return s.storeError("status", err)
	}
	b := append(s.buf[:0], "* STATUS "...)
	b = s.appendMailbox(b, name)
	b = append(b, " ("...)
	for i, it := range items {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, it...)
		b = append(b, ' ')
		var v uint64
		switch it {
		case "MESSAGES":
			v = uint64(st.Messages)
		case "UIDNEXT":
			v = uint64(st.UIDNext)
		case "UIDVALIDITY":
			v = uint64(st.UIDValidity)
		case "UNSEEN":
			v = uint64(st.Unseen)
		case "DELETED":
			v = uint64(st.Deleted)
		case "SIZE":
			v = uint64(st.Size)
		case "RECENT":
			v = 0 // \Recent is not kept (IMAP4rev2 dropped it)
		case "HIGHESTMODSEQ":
			v = st.HighestModSeq
			if s.condstore == false {
				s.condstore = true // RFC 7162 §3.1: a CONDSTORE-enabling command
			}
		}
		b = strconv.AppendUint(b, v, 10)
	}
	b = append(b, ")\r\n"...)
	s.buf = b
	return s.writeBuf()
}
