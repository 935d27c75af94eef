package imapd

import (
	"slices"
	"sort"
	"strconv"
	"strings"

	"mailhorn/internal/store"
)

var systemFlags = []string{store.FlagAnswered, store.FlagFlagged, store.FlagDeleted, store.FlagSeen, store.FlagDraft}

// appendFlagList appends "(\Seen kw ...)".
func appendFlagList(b []byte, flags []string) []byte {
	b = append(b, '(')
	for i, f := range flags {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, f...)
	}
	return append(b, ')')
}

// qresyncParams are SELECT's (QRESYNC (...)) parameters (RFC 7162 §3.2.5).
type qresyncParams struct {
	uidValidity uint32
	modSeq      uint64
	knownUIDs   *seqSet
}

func (s *session) cmdSelect(c *cmd) error {
	p := c.p
	name, err := s.spMailbox(p)
	if err != nil {
		return err
	}
	var qr *qresyncParams
	condstore := false
	if p.trySP() {
		err := p.list(func() error {
			a, err := p.atom()
			if err != nil {
				return err
			}
			switch strings.ToUpper(a) {
			case "CONDSTORE":
				condstore = true
			case "QRESYNC":
				if !s.qresync {
					return errSyntax("QRESYNC not enabled")
				}
				if err := p.sp(); err != nil {
					return err
				}
				qr = &qresyncParams{}
				return p.list(func() error {
					// uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data]
					v, err := p.number32(false)
					if err != nil {
						return err
					}
					qr.uidValidity = v
					if err := p.sp(); err != nil {
						return err
					}
					if qr.modSeq, err = p.number(); err != nil {
						return err
					}
					if p.trySP() && p.peek() != '(' {
						set, err := parseSeqSet(p.word(":,*"))
						if err != nil || set.saved {
							return errSyntax("bad known-uids")
						}
						qr.knownUIDs = &set
						p.trySP()
					}
					if p.peek() == '(' {
						// seq-match-data: accepted and not used (we answer
						// with every vanished UID of known-uids).
						return p.list(func() error {
							if w := p.word(":,*"); w == "" {
								return errSyntax("bad seq-match-data")
							}
							return nil
						})
					}
					return nil
				})
			default:
				return errSyntax("unknown SELECT parameter %s", a)
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
	if s.mbox != nil {
		s.mbox.Close()
		s.mbox, s.saved = nil, nil
		s.state = stateAuth
		if s.rev2 || s.qresync {
			s.w.WriteString("* OK [CLOSED] Previous mailbox closed.\r\n")
		}
	}
	if condstore {
		s.condstore = true
	}
	mb, err := s.user.Open(s.ctx, name)
	if err != nil {
		return s.storeError("select", err)
	}
	if _, err := mb.Sync(s.ctx); err != nil {
		mb.Close()
		return s.storeError("select", err)
	}
	s.mbox, s.state, s.readOnly = mb, stateSelected, c.name == "EXAMINE"
	st := mb.Status()
	b := s.appendFlagsResponses(s.buf[:0])
	b = append(b, "* "...)
	b = strconv.AppendUint(b, uint64(st.Messages), 10)
	b = append(b, " EXISTS\r\n"...)
	if !s.rev2 {
		b = append(b, "* 0 RECENT\r\n"...)
		if st.FirstUnseen > 0 {
			b = append(b, "* OK [UNSEEN "...)
			b = strconv.AppendUint(b, uint64(st.FirstUnseen), 10)
			b = append(b, "] First unseen.\r\n"...)
		}
	}
	b = append(b, "* OK [UIDVALIDITY "...)
	b = strconv.AppendUint(b, uint64(st.UIDValidity), 10)
	b = append(b, "] UIDs valid\r\n* OK [UIDNEXT "...)
	b = strconv.AppendUint(b, uint64(st.UIDNext), 10)
	b = append(b, "] Predicted next UID\r\n"...)
	if s.condstore {
		b = append(b, "* OK [HIGHESTMODSEQ "...)
		b = strconv.AppendUint(b, st.HighestModSeq, 10)
		b = append(b, "] Highest\r\n"...)
	}
	if s.rev2 {
		b = append(b, "* LIST () \"/\" "...)
		b = s.appendMailbox(b, name)
		b = append(b, "\r\n"...)
	}
	s.buf = b
	if err := s.writeBuf(); err != nil {
		return err
	}
	if qr != nil && qr.uidValidity == st.UIDValidity {
		if err := s.qresyncSelect(qr, st); err != nil {
			return err
		}
	}
	if s.readOnly {
		c.okCode = "READ-ONLY"
		c.okText = "Examine completed."
	} else {
		c.okCode = "READ-WRITE"
		c.okText = "Select completed."
	}
	return nil
}

// appendFlagsResponses appends the FLAGS and PERMANENTFLAGS responses.
func (s *session) appendFlagsResponses(b []byte) []byte {
	kw := s.mbox.Keywords()
	flags := append(slices.Clip(systemFlags), kw...)
	b = append(b, "* FLAGS "...)
	b = appendFlagList(b, flags)
	b = append(b, "\r\n* OK [PERMANENTFLAGS "...)
	if s.readOnly {
		b = append(b, "()"...)
	} else {
		b = appendFlagList(b, append(flags, `\*`))
	}
	return append(b, "] Flags permitted.\r\n"...)
}

// qresyncSelect sends what a client resynchronising with QRESYNC needs:
// VANISHED (EARLIER) for the known UIDs that are gone (we keep no
// expunge history, so every gone UID is reported: RFC 7162 §3.2.5.1
// allows it) and FETCH for messages changed since its MODSEQ.
func (s *session) qresyncSelect(qr *qresyncParams, st store.Status) error {
	msgs := s.mbox.Messages()
	known := qr.knownUIDs
	if known == nil {
		all := seqSet{ranges: []seqRange{{1, st.UIDNext - 1}}}
		if st.UIDNext <= 1 {
			all.ranges = nil
		}
		known = &all
	}
	var gone []uint32
	for _, r := range known.ranges {
		lo, hi := r.norm(st.UIDNext - 1)
		if hi-lo > 1<<20 {
			hi = lo + 1<<20 // bounded work for absurd ranges
		}
		i := sort.Search(len(msgs), func(i int) bool { return msgs[i].UID >= lo })
		for u := lo; u <= hi && u != 0; u++ {
			for i < len(msgs) && msgs[i].UID < u {
				i++
			}
			if i >= len(msgs) || msgs[i].UID != u {
				gone = append(gone, u)
			}
		}
	}
	slices.Sort(gone)
	gone = slices.Compact(gone)
	if len(gone) > 0 {
		s.buf = append(s.buf[:0], "* VANISHED (EARLIER) "...)
		s.buf = appendNumSet(s.buf, gone)
		s.buf = append(s.buf, "\r\n"...)
		if err := s.writeBuf(); err != nil {
			return err
		}
	}
	for i, m := range msgs {
		if m.ModSeq > qr.modSeq {
			s.buf = s.appendFlagsFetch(s.buf[:0], i+1, &m)
			if err := s.writeBuf(); err != nil {
				return err
			}
		}
	}
	return nil
}

// appendFlagsFetch formats an unsolicited "* n FETCH (UID u FLAGS (...) MODSEQ (m))".
func (s *session) appendFlagsFetch(b []byte, seq int, m *store.Message) []byte {
	b = append(b, "* "...)
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, " FETCH (UID "...)
	b = strconv.AppendUint(b, uint64(m.UID), 10)
	b = append(b, " FLAGS "...)
	b = appendFlagList(b, m.Flags)
	if s.condstore {
		b = append(b, " MODSEQ ("...)
		b = strconv.AppendUint(b, m.ModSeq, 10)
		b = append(b, ')')
	}
	return append(b, ")\r\n"...)
}

func (s *session) cmdClose(c *cmd) error {
	if err := c.p.end(); err != nil {
		return err
	}
	if c.name == "CLOSE" && !s.readOnly {
		// CLOSE expunges silently (RFC 9051 §6.4.1).
		if _, err := s.mbox.Expunge(s.ctx, nil); err != nil {
			return s.storeError("close", err)
		}
	}
	s.mbox.Close()
	s.mbox, s.saved, s.state = nil, nil, stateAuth
	return nil
}

// sendUpdates syncs the selected mailbox and reports what changed:
// EXPUNGE (or VANISHED with QRESYNC), EXISTS, FETCH FLAGS.
func (s *session) sendUpdates(expungeOK bool) error {
	if !expungeOK {
		return nil
	}
	before := len(s.mbox.Keywords())
	ch, err := s.mbox.Sync(s.ctx)
	if err != nil {
		return s.storeError("sync", err)
	}
	return s.reportChanges(ch, before)
}

// reportChanges writes the responses for a store Changes.
func (s *session) reportChanges(ch store.Changes, kwBefore int) error {
	b := s.appendExpunged(s.buf[:0], ch)
	msgs := s.mbox.Messages()
	if kw := len(s.mbox.Keywords()); kw != kwBefore && kwBefore >= 0 {
		b = s.appendFlagsResponses(b)
	}
	if ch.New > 0 {
		b = append(b, "* "...)
		b = strconv.AppendInt(b, int64(len(msgs)), 10)
		b = append(b, " EXISTS\r\n"...)
		if !s.rev2 {
			b = append(b, "* 0 RECENT\r\n"...)
		}
	}
	for _, uid := range ch.FlagsChanged {
		if i, ok := findUID(msgs, uid); ok {
			b = s.appendFlagsFetch(b, i+1, &msgs[i])
		}
	}
	s.buf = b
	return s.writeBuf()
}

// appendExpunged formats EXPUNGE or VANISHED responses.
func (s *session) appendExpunged(b []byte, ch store.Changes) []byte {
	if len(ch.Expunged) == 0 {
		return b
	}
	if s.qresync {
		uids := slices.Clone(ch.ExpungedUIDs)
		slices.Sort(uids)
		b = append(b, "* VANISHED "...)
		b = appendNumSet(b, uids)
		return append(b, "\r\n"...)
	}
	for _, n := range ch.Expunged {
		b = append(b, "* "...)
		b = strconv.AppendUint(b, uint64(n), 10)
		b = append(b, " EXPUNGE\r\n"...)
	}
	return b
}

// findUID returns the index of uid in msgs (UID order).
func findUID(msgs []store.Message, uid uint32) (int, bool) {
	i := sort.Search(len(msgs), func(i int) bool { return msgs[i].UID >= uid })
	return i, i < len(msgs) && msgs[i].UID == uid
}
