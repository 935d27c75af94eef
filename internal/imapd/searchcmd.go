package imapd

import (
	"net/mail"
	"slices"
	"strconv"
	"strings"

	"mailhorn/internal/message"
	"mailhorn/internal/store"
)

// searchCharset reads an optional "CHARSET x" and checks it.
func searchCharset(p *parser) error {
	save := p.pos
	if p.peek() == 'C' || p.peek() == 'c' {
		a, err := p.atom()
		if err == nil && strings.EqualFold(a, "CHARSET") {
			if err := p.sp(); err != nil {
				return err
			}
			cs, err := p.astring()
			if err != nil {
				return err
			}
			if !strings.EqualFold(cs, "UTF-8") && !strings.EqualFold(cs, "US-ASCII") {
				return no("BADCHARSET (US-ASCII UTF-8)", "Unsupported charset.")
			}
			return p.sp()
		}
		p.pos = save
	}
	return nil
}

func (s *session) cmdSearch(c *cmd) error {
	p := c.p
	if err := p.sp(); err != nil {
		return err
	}
	var ret []string
	esearch := s.rev2
	if p.peek() == 'R' || p.peek() == 'r' {
		save := p.pos
		if a, _ := p.atom(); strings.EqualFold(a, "RETURN") {
			esearch = true
			if err := p.sp(); err != nil {
				return err
			}
			err := p.list(func() error {
				a, err := p.atom()
				if err != nil {
					return err
				}
				a = strings.ToUpper(a)
				switch a {
				case "MIN", "MAX", "COUNT", "ALL", "SAVE":
					ret = append(ret, a)
				default:
					return errSyntax("unknown RETURN option %s", a)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if err := p.sp(); err != nil {
				return err
			}
			if len(ret) == 0 {
				ret = []string{"ALL"}
			}
		} else {
			p.pos = save
		}
	}
	if esearch && ret == nil {
		ret = []string{"ALL"}
	}
	if err := searchCharset(p); err != nil {
		return err
	}
	k, err := parseSearchKeys(p, 0)
	if err != nil {
		return err
	}
	if err := p.end(); err != nil {
		return err
	}
	if k.usesModSeq() {
		s.condstore = true
	}
	idx, err := s.runSearch(k)
	if err != nil {
		return err
	}
	msgs := s.mbox.Messages()
	num := func(i int) uint32 {
		if c.uid {
			return msgs[i].UID
		}
		return uint32(i + 1)
	}
	var highest uint64
	if k.usesModSeq() {
		for _, i := range idx {
			highest = max(highest, msgs[i].ModSeq)
		}
	}
	has := func(o string) bool { return slices.Contains(ret, o) }
	if has("SAVE") {
		var keep []int
		switch {
		case (has("MIN") || has("MAX")) && !has("ALL") && !has("COUNT") && len(idx) > 0:
			if has("MIN") {
				keep = append(keep, idx[0])
			}
			if has("MAX") && (len(keep) == 0 || keep[0] != idx[len(idx)-1]) {
				keep = append(keep, idx[len(idx)-1])
			}
		default:
			keep = idx
		}
		s.saved = s.saved[:0]
		for _, i := range keep {
			s.saved = append(s.saved, msgs[i].UID)
		}
		if len(ret) == 1 {
			return nil // SAVE alone: no ESEARCH (RFC 5182 §2.1)
		}
	}
	b := s.buf[:0]
	if !esearch {
		b = append(b, "* SEARCH"...)
		for _, i := range idx {
			b = append(b, ' ')
			b = strconv.AppendUint(b, uint64(num(i)), 10)
		}
		if highest > 0 && len(idx) > 0 {
			b = append(b, " (MODSEQ "...)
			b = strconv.AppendUint(b, highest, 10)
			b = append(b, ')')
		}
		s.buf = append(b, "\r\n"...)
		return s.writeBuf()
	}
	b = append(b, "* ESEARCH (TAG "...)
	b = appendString(b, c.tag)
	b = append(b, ')')
	if c.uid {
		b = append(b, " UID"...)
	}
	if len(idx) > 0 {
		if has("MIN") {
			b = append(b, " MIN "...)
			b = strconv.AppendUint(b, uint64(num(idx[0])), 10)
		}
		if has("MAX") {
			b = append(b, " MAX "...)
			b = strconv.AppendUint(b, uint64(num(idx[len(idx)-1])), 10)
		}
		if has("ALL") {
			nums := make([]uint32, len(idx))
			for j, i := range idx {
				nums[j] = num(i)
			}
			b = append(b, " ALL "...)
			b = appendNumSet(b, nums)
		}
	}
	if has("COUNT") {
		b = append(b, " COUNT "...)
		b = strconv.AppendInt(b, int64(len(idx)), 10)
	}
	if highest > 0 && len(idx) > 0 {
		b = append(b, " MODSEQ "...)
		b = strconv.AppendUint(b, highest, 10)
	}
	s.buf = append(b, "\r\n"...)
	return s.writeBuf()
}

// sortKey is one SORT criterion (RFC 5256).
type sortKey struct {
	key     string
	reverse bool
}

func (s *session) cmdSort(c *cmd) error {
	p := c.p
	if err := p.sp(); err != nil {
		return err
	}
	var keys []sortKey
	rev := false
	err := p.list(func() error {
		a, err := p.atom()
		if err != nil {
			return err
		}
		a = strings.ToUpper(a)
		switch a {
		case "REVERSE":
			if rev {
				return errSyntax("REVERSE twice")
			}
			rev = true
			return nil
		case "ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO":
			keys = append(keys, sortKey{a, rev})
			rev = false
			return nil
		}
		return errSyntax("unknown sort criterion %s", a)
	})
	if err != nil {
		return err
	}
	if rev || len(keys) == 0 {
		return errSyntax("bad sort criteria")
	}
	if err := p.sp(); err != nil {
		return err
	}
	cs, err := p.astring()
	if err != nil {
		return err
	}
	if !strings.EqualFold(cs, "UTF-8") && !strings.EqualFold(cs, "US-ASCII") {
		return no("BADCHARSET (US-ASCII UTF-8)", "Unsupported charset.")
	}
	if err := p.sp(); err != nil {
		return err
	}
	k, err := parseSearchKeys(p, 0)
	if err != nil {
		return err
	}
	if err := p.end(); err != nil {
		return err
	}
	idx, err := s.runSearch(k)
	if err != nil {
		return err
	}
	msgs := s.mbox.Messages()
	type row struct {
		i    int
		strs []string
		nums []int64
	}
	rows := make([]row, len(idx))
	h := headerSource{s: s}
	defer h.close()
	for j, i := range idx {
		m := &msgs[i]
		r := row{i: i, strs: make([]string, len(keys)), nums: make([]int64, len(keys))}
		h.reset(m.UID)
		rec, err := h.record()
		if err != nil {
			rec = []byte{searchRecordV1} // unreadable: no header fields
		}
		for n, key := range keys {
			switch key.key {
			case "ARRIVAL":
				r.nums[n] = m.InternalDate.Unix()
			case "SIZE":
				r.nums[n] = m.Size
			case "DATE":
				r.nums[n] = m.InternalDate.Unix()
				if v, ok := firstValue(rec, efDate); ok {
					if d := message.ParseDate(v); !d.IsZero() {
						r.nums[n] = d.Unix()
					}
				}
			case "SUBJECT":
				if v, ok := firstValue(rec, efSubject); ok {
					r.strs[n] = baseSubject(v)
				}
			default: // CC FROM TO
				idx := efTo
				switch key.key {
				case "CC":
					idx = efCc
				case "FROM":
					idx = efFrom
				}
				if v, ok := firstValue(rec, idx); ok {
					r.strs[n] = addrMailbox(v)
				}
			}
		}
		rows[j] = r
	}
	slices.SortStableFunc(rows, func(a, b row) int {
		for n, key := range keys {
			c := 0
			switch key.key {
			case "ARRIVAL", "SIZE", "DATE":
				c = cmpInt(a.nums[n], b.nums[n])
			default:
				c = strings.Compare(a.strs[n], b.strs[n])
			}
			if key.reverse {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return a.i - b.i // ties: sequence order
	})
	b := append(s.buf[:0], "* SORT"...)
	for _, r := range rows {
		b = append(b, ' ')
		if c.uid {
			b = strconv.AppendUint(b, uint64(msgs[r.i].UID), 10)
		} else {
			b = strconv.AppendInt(b, int64(r.i+1), 10)
		}
	}
	s.buf = append(b, "\r\n"...)
	return s.writeBuf()
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// addrMailbox is the local part of the first address, folded (RFC 5256
// sorts FROM, TO, CC by addr-mailbox).
func addrMailbox(v string) string {
	list, err := mail.ParseAddressList(v)
	if err != nil || len(list) == 0 {
		return strings.ToLower(strings.TrimSpace(v))
	}
	local, _, _ := strings.Cut(list[0].Address, "@")
	return strings.ToLower(local)
}

// baseSubject extracts the base subject (RFC 5256 §2.1) from a decoded
// Subject, folded for comparison.
func baseSubject(s string) string {
	s = strings.Join(strings.Fields(s), " ") // (1) whitespace to one space
	for {
		changed := false
		// (2) remove trailing "(fwd)" and whitespace
		for {
			t := strings.TrimRight(s, " ")
			if len(t) >= 5 && strings.EqualFold(t[len(t)-5:], "(fwd)") {
				s = t[:len(t)-5]
				continue
			}
			s = t
			break
		}
		// (3)-(5) remove leading subj-refwd and subj-blob
		for {
			t := strings.TrimLeft(s, " ")
			if r, ok := stripRefwd(t); ok {
				s = r
				changed = true
				continue
			}
			if r, ok := stripBlob(t); ok && strings.TrimSpace(r) != "" {
				s = r
				changed = true
				continue
			}
			s = t
			break
		}
		// (6) [fwd: ...]
		if len(s) > 6 && strings.EqualFold(s[:5], "[fwd:") && s[len(s)-1] == ']' {
			s = strings.TrimSpace(s[5 : len(s)-1])
			changed = true
		}
		if !changed {
			break
		}
	}
	return strings.ToLower(s)
}

// stripRefwd removes a leading "re:", "fw:", "fwd:" with optional blobs
// between the word and the colon.
func stripRefwd(s string) (string, bool) {
	l := strings.ToLower(s)
	var n int
	switch {
	case strings.HasPrefix(l, "re"):
		n = 2
	case strings.HasPrefix(l, "fwd"):
		n = 3
	case strings.HasPrefix(l, "fw"):
		n = 2
	default:
		return s, false
	}
	rest := strings.TrimLeft(s[n:], " ")
	for {
		r, ok := stripBlob(rest)
		if !ok {
			break
		}
		rest = strings.TrimLeft(r, " ")
	}
	if !strings.HasPrefix(rest, ":") {
		return s, false
	}
	return rest[1:], true
}

// stripBlob removes a leading "[...]" (no brackets inside).
func stripBlob(s string) (string, bool) {
	if !strings.HasPrefix(s, "[") {
		return s, false
	}
	end := strings.IndexAny(s[1:], "[]")
	if end < 0 || s[1+end] != ']' {
		return s, false
	}
	return s[end+2:], true
}

var _ = store.FlagSeen
