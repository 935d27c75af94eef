package imapd

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"mailhorn/internal/message"
	"mailhorn/internal/store"
)

// searchKey is one node of a SEARCH program (RFC 9051 §6.4.4).
type searchKey struct {
	op     string // ALL AND OR NOT FLAG NOFLAG SEQ UID LARGER SMALLER BEFORE ON SINCE SENTBEFORE SENTON SENTSINCE HEADER BODY TEXT MODSEQ
	kids   []*searchKey
	flag   string
	set    seqSet
	n      int64
	modseq uint64
	date   time.Time // midnight UTC of the day named
	field  string    // HEADER field (lower case), "" for BODY/TEXT
	value  string    // the string searched, folded
	// HEADER: the field's index in envFields (answered from the search
	// record), or -1 (the header block is scanned for fieldName).
	envIdx    int
	fieldName []byte
}

// needs tells what of a message a program reads.
type needs struct{ header, body bool }

func (k *searchKey) needs(n *needs) {
	switch k.op {
	case "HEADER", "SENTBEFORE", "SENTON", "SENTSINCE":
		n.header = true
	case "BODY", "TEXT":
		n.body = true
	}
	for _, kid := range k.kids {
		kid.needs(n)
	}
}

// usesModSeq reports whether MODSEQ appears (for the response's MODSEQ).
func (k *searchKey) usesModSeq() bool {
	if k.op == "MODSEQ" {
		return true
	}
	for _, kid := range k.kids {
		if kid.usesModSeq() {
			return true
		}
	}
	return false
}

const maxSearchDepth = 100

// parseSearchKeys reads search keys up to the end of the command (or a
// ')' when nested) and returns them ANDed.
func parseSearchKeys(p *parser, depth int) (*searchKey, error) {
	and := &searchKey{op: "AND"}
	for {
		k, err := parseSearchKey(p, depth)
		if err != nil {
			return nil, err
		}
		and.kids = append(and.kids, k)
		if p.atEnd() || p.peek() == ')' {
			break
		}
		if err := p.sp(); err != nil {
			return nil, err
		}
	}
	if len(and.kids) == 1 {
		return and.kids[0], nil
	}
	return and, nil
}

func parseSearchKey(p *parser, depth int) (*searchKey, error) {
	if depth > maxSearchDepth {
		return nil, errSyntax("search program too deeply nested")
	}
	if p.tryByte('(') {
		k, err := parseSearchKeys(p, depth+1)
		if err != nil {
			return nil, err
		}
		if err := p.expect(')'); err != nil {
			return nil, err
		}
		return k, nil
	}
	if c := p.peek(); c >= '0' && c <= '9' || c == '*' || c == '$' {
		set, err := parseSeqSet(p.word(":,*$"))
		if err != nil {
			return nil, err
		}
		return &searchKey{op: "SEQ", set: set}, nil
	}
	a, err := p.atom()
	if err != nil {
		return nil, errSyntax("expected a search key")
	}
	key := strings.ToUpper(a)
	arg := func() (string, error) {
		if err := p.sp(); err != nil {
			return "", err
		}
		return p.astring()
	}
	str := func(op, field string) (*searchKey, error) {
		v, err := arg()
		if err != nil {
			return nil, err
		}
		k := &searchKey{op: op, field: field, value: foldString(v), envIdx: -1}
		if op == "HEADER" {
			k.envIdx, k.fieldName = envFieldIndex(field), []byte(field)
		}
		return k, nil
	}
	date := func(op string) (*searchKey, error) {
		v, err := arg()
		if err != nil {
			return nil, err
		}
		d, err := time.Parse("2-Jan-2006", v)
		if err != nil {
			return nil, errSyntax("bad date %q", v)
		}
		return &searchKey{op: op, date: d}, nil
	}
	num := func(op string) (*searchKey, error) {
		if err := p.sp(); err != nil {
			return nil, err
		}
		n, err := p.number()
		if err != nil {
			return nil, err
		}
		return &searchKey{op: op, n: int64(n), modseq: n}, nil
	}
	flag := func(op, f string) (*searchKey, error) { return &searchKey{op: op, flag: f}, nil }
	keyword := func(op string) (*searchKey, error) {
		if err := p.sp(); err != nil {
			return nil, err
		}
		f, err := p.atom()
		if err != nil {
			return nil, err
		}
		return &searchKey{op: op, flag: f}, nil
	}
	switch key {
	case "ALL":
		return &searchKey{op: "ALL"}, nil
	case "ANSWERED":
		return flag("FLAG", store.FlagAnswered)
	case "DELETED":
		return flag("FLAG", store.FlagDeleted)
	case "DRAFT":
		return flag("FLAG", store.FlagDraft)
	case "FLAGGED":
		return flag("FLAG", store.FlagFlagged)
	case "SEEN", "OLD":
		if key == "OLD" {
			return &searchKey{op: "ALL"}, nil // no \Recent: every message is old
		}
		return flag("FLAG", store.FlagSeen)
	case "NEW", "RECENT":
		return &searchKey{op: "NOT", kids: []*searchKey{{op: "ALL"}}}, nil
	case "UNANSWERED":
		return flag("NOFLAG", store.FlagAnswered)
	case "UNDELETED":
		return flag("NOFLAG", store.FlagDeleted)
	case "UNDRAFT":
		return flag("NOFLAG", store.FlagDraft)
	case "UNFLAGGED":
		return flag("NOFLAG", store.FlagFlagged)
	case "UNSEEN":
		return flag("NOFLAG", store.FlagSeen)
	case "KEYWORD":
		return keyword("FLAG")
	case "UNKEYWORD":
		return keyword("NOFLAG")
	case "BCC", "CC", "FROM", "SUBJECT", "TO":
		return str("HEADER", strings.ToLower(key))
	case "BODY", "TEXT":
		return str(key, "")
	case "HEADER":
		if err := p.sp(); err != nil {
			return nil, err
		}
		field, err := p.astring()
		if err != nil {
			return nil, err
		}
		k, err := str("HEADER", strings.ToLower(field))
		if err != nil {
			return nil, err
		}
		if k.field == "" {
			return nil, errSyntax("empty header field name")
		}
		return k, nil
	case "BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE":
		return date(key)
	case "LARGER", "SMALLER":
		return num(key)
	case "UID":
		if err := p.sp(); err != nil {
			return nil, err
		}
		set, err := parseSeqSet(p.word(":,*$"))
		if err != nil {
			return nil, err
		}
		return &searchKey{op: "UID", set: set}, nil
	case "NOT":
		if err := p.sp(); err != nil {
			return nil, err
		}
		k, err := parseSearchKey(p, depth+1)
		if err != nil {
			return nil, err
		}
		return &searchKey{op: "NOT", kids: []*searchKey{k}}, nil
	case "OR":
		if err := p.sp(); err != nil {
			return nil, err
		}
		a, err := parseSearchKey(p, depth+1)
		if err != nil {
			return nil, err
		}
		if err := p.sp(); err != nil {
			return nil, err
		}
		b, err := parseSearchKey(p, depth+1)
		if err != nil {
			return nil, err
		}
		return &searchKey{op: "OR", kids: []*searchKey{a, b}}, nil
	case "MODSEQ":
		// MODSEQ [entry-name entry-type-req] mod-sequence-valzer (RFC 7162)
		if err := p.sp(); err != nil {
			return nil, err
		}
		if p.peek() == '"' || p.peek() == '{' {
			if _, err := p.str(); err != nil {
				return nil, err
			}
			if err := p.sp(); err != nil {
				return nil, err
			}
			t, err := p.atom()
			if err != nil {
				return nil, err
			}
			if t = strings.ToLower(t); t != "priv" && t != "shared" && t != "all" {
				return nil, errSyntax("bad MODSEQ entry type")
			}
			if err := p.sp(); err != nil {
				return nil, err
			}
		}
		n, err := p.number()
		if err != nil {
			return nil, err
		}
		return &searchKey{op: "MODSEQ", modseq: n}, nil
	}
	return nil, errSyntax("unknown search key %s", a)
}

// foldString folds for case-insensitive substring matching.
func foldString(s string) string { return strings.ToLower(s) }

// containsFold reports whether the folded needle is in h, as
// strings.Contains(strings.ToLower(h), needle) would, without a copy.
func containsFold[T ~string | ~[]byte](h T, needle string) bool {
	if needle == "" {
		return true
	}
	for i := 0; i < len(h); i++ {
		if h[i] >= utf8.RuneSelf {
			return containsFoldRunes(h, needle)
		}
	}
	n := len(needle)
	for i := 0; i+n <= len(h); i++ {
		j := 0
		for ; j < n; j++ {
			c := h[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != needle[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}

// containsFoldRunes is containsFold for non-ASCII text: rune by rune,
// each lowered as strings.ToLower does (bytes that are not UTF-8 are
// U+FFFD, which the folded needle also has for them).
func containsFoldRunes[T ~string | ~[]byte](h T, needle string) bool {
	for i := 0; i < len(h); {
		if hasFoldPrefix(h[i:], needle) {
			return true
		}
		_, n := decodeRune(h[i:])
		i += n
	}
	return false
}

func hasFoldPrefix[T ~string | ~[]byte](h T, needle string) bool {
	for j := 0; j < len(needle); {
		if len(h) == 0 {
			return false
		}
		r, n := decodeRune(h)
		want, m := utf8.DecodeRuneInString(needle[j:])
		if unicode.ToLower(r) != want {
			return false
		}
		h, j = h[n:], j+m
	}
	return true
}

func decodeRune[T ~string | ~[]byte](h T) (rune, int) {
	if h[0] < utf8.RuneSelf {
		return rune(h[0]), 1
	}
	var b [utf8.UTFMax]byte
	n := copy(b[:], h)
	return utf8.DecodeRune(b[:n])
}

// searchMsg is the lazily read content of the message under test: its
// header (search record or header block) and, for BODY and TEXT, all of
// it.
type searchMsg struct {
	h    headerSource
	mb   *store.Mailbox
	uid  uint32
	size int64
	full bool // the body is needed
	file io.ReadSeekCloser
	ra   io.ReaderAt
	part *message.Part
	err  error
}

func (sm *searchMsg) reset(s *session, m *store.Message, full bool) {
	sm.close()
	h := sm.h
	h.s = s
	h.reset(m.UID)
	*sm = searchMsg{h: h, mb: s.mbox, uid: m.UID, size: m.Size, full: full}
}

// load opens and parses the whole message (BODY, TEXT).
func (sm *searchMsg) load() (*message.Part, io.ReaderAt, error) {
	if sm.part != nil || sm.err != nil {
		return sm.part, sm.ra, sm.err
	}
	f, err := sm.mb.Open(sm.uid)
	if err != nil {
		sm.err = err
		return nil, nil, err
	}
	sm.file = f
	if ra, ok := f.(io.ReaderAt); ok {
		sm.ra = ra
	} else {
		data, err := io.ReadAll(f)
		if err != nil {
			sm.err = err
			return nil, nil, err
		}
		sm.ra = bytes.NewReader(data)
	}
	sm.part, sm.err = message.Parse(sm.ra, sm.size)
	return sm.part, sm.ra, sm.err
}

func (sm *searchMsg) close() {
	sm.h.close()
	if sm.file != nil {
		sm.file.Close()
		sm.file = nil
	}
}

// match evaluates k for message m (sequence number seq).
func (s *session) match(k *searchKey, seq int, m *store.Message, sm *searchMsg, star uint32, nmsgs int) (bool, error) {
	switch k.op {
	case "ALL":
		return true, nil
	case "AND":
		for _, kid := range k.kids {
			ok, err := s.match(kid, seq, m, sm, star, nmsgs)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case "OR":
		for _, kid := range k.kids {
			ok, err := s.match(kid, seq, m, sm, star, nmsgs)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case "NOT":
		ok, err := s.match(k.kids[0], seq, m, sm, star, nmsgs)
		return !ok, err
	case "FLAG":
		return hasFlag(m.Flags, k.flag), nil
	case "NOFLAG":
		return !hasFlag(m.Flags, k.flag), nil
	case "SEQ":
		if k.set.saved {
			return savedHas(s.saved, m.UID), nil
		}
		return k.set.contains(uint32(seq), uint32(nmsgs)), nil
	case "UID":
		if k.set.saved {
			return savedHas(s.saved, m.UID), nil
		}
		return k.set.contains(m.UID, star), nil
	case "LARGER":
		return m.Size > k.n, nil
	case "SMALLER":
		return m.Size < k.n, nil
	case "MODSEQ":
		return m.ModSeq >= k.modseq, nil
	case "BEFORE", "ON", "SINCE":
		return compareDay(m.InternalDate, k.date, k.op), nil
	case "SENTBEFORE", "SENTON", "SENTSINCE":
		rec, err := sm.h.record()
		if err != nil {
			return false, nil // unreadable: no match
		}
		v, _ := firstValue(rec, efDate)
		d := message.ParseDate(v)
		if d.IsZero() {
			return false, nil
		}
		return compareDay(d, k.date, k.op[4:]), nil
	case "HEADER":
		found := false
		if k.envIdx >= 0 {
			rec, err := sm.h.record()
			if err != nil {
				return false, nil
			}
			eachValue(rec, k.envIdx, func(v []byte) bool {
				found = containsFold(v, k.value)
				return !found
			})
			return found, nil
		}
		hdr, err := sm.h.header()
		if err != nil {
			return false, nil
		}
		message.EachField(hdr,
			func(name []byte) bool { return bytes.EqualFold(name, k.fieldName) },
			func(_ []byte, v string) bool {
				found = containsFold(v, k.value)
				return !found
			})
		return found, nil
	case "BODY", "TEXT":
		part, ra, err := sm.load()
		if err != nil {
			return false, nil
		}
		if k.op == "TEXT" {
			h, err := part.HeaderText(ra)
			if err == nil && containsFold(h, k.value) {
				return true, nil
			}
		}
		found := false
		part.BodyText(ra, func(text string) bool {
			found = containsFold(text, k.value)
			return !found
		})
		return found, nil
	}
	return false, nil
}

// savedHas reports whether uid is in the saved result (sorted UIDs).
func savedHas(saved []uint32, uid uint32) bool {
	_, ok := slices.BinarySearch(saved, uid)
	return ok
}

// compareDay compares t's calendar day (in its own zone, RFC 9051:
// "disregarding time and timezone") with day.
func compareDay(t, day time.Time, op string) bool {
	y, mo, d := t.Date()
	td := time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
	switch op {
	case "BEFORE":
		return td.Before(day)
	case "ON":
		return td.Equal(day)
	default: // SINCE
		return !td.Before(day)
	}
}

// runSearch returns the indexes of the messages matching k.
func (s *session) runSearch(k *searchKey) ([]int, error) {
	var nd needs
	k.needs(&nd)
	msgs := s.mbox.Messages()
	var star uint32
	if len(msgs) > 0 {
		star = msgs[len(msgs)-1].UID
	}
	var sm searchMsg
	defer sm.close()
	var out []int
	for i := range msgs {
		if i%256 == 0 && s.ctx.Err() != nil {
			return nil, s.ctx.Err()
		}
		m := &msgs[i]
		if nd.header || nd.body {
			sm.reset(s, m, nd.body)
		}
		ok, err := s.match(k, i+1, m, &sm, star, len(msgs))
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, i)
		}
	}
	return out, nil
}
