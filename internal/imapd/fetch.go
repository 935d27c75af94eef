package imapd

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"mailhorn/internal/message"
	"mailhorn/internal/store"
)

type fetchKind int

const (
	fiFlags fetchKind = iota
	fiUID
	fiInternalDate
	fiSize
	fiEnvelope
	fiBodyStructure
	fiBody
	fiSection
	fiModSeq
	fiBinary     // BINARY[path]: the section decoded (RFC 3516)
	fiBinarySize // BINARY.SIZE[path]
)

// fetchItem is one FETCH data item.
type fetchItem struct {
	kind    fetchKind
	label   string // the response's item name: "BODY[HEADER]", "RFC822"
	section message.Section
	whole   bool // the whole message (BODY[], RFC822)
	peek    bool
	partial bool
	offset  int64
	count   int64
}

// fetchRequest is a parsed FETCH.
type fetchRequest struct {
	items        []fetchItem
	changedSince uint64
	vanished     bool
	needParse    bool // some item needs the MIME structure
	// needStructure: BODYSTRUCTURE or BODY is asked for (parsed on a
	// cache miss, so an ENVELOPE miss parses too, reading once).
	needStructure bool
	setSeen       bool // some item sets \Seen
	binary        bool // some item is BINARY or BINARY.SIZE
}

// parseFetchItems reads the data items of FETCH (after the sequence set).
func parseFetchItems(p *parser) (*fetchRequest, error) {
	req := &fetchRequest{}
	if p.peek() == '(' {
		err := p.list(func() error { return parseFetchItem(p, req) })
		if err != nil {
			return nil, err
		}
	} else {
		if err := parseFetchItem(p, req); err != nil {
			return nil, err
		}
	}
	if len(req.items) == 0 {
		return nil, errSyntax("no FETCH items")
	}
	if p.trySP() {
		// RFC 7162 fetch-modifiers: (CHANGEDSINCE n [VANISHED])
		err := p.list(func() error {
			a, err := p.atom()
			if err != nil {
				return err
			}
			switch strings.ToUpper(a) {
			case "CHANGEDSINCE":
				if err := p.sp(); err != nil {
					return err
				}
				req.changedSince, err = p.number()
				return err
			case "VANISHED":
				req.vanished = true
			default:
				return errSyntax("unknown FETCH modifier %s", a)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return req, nil
}

func parseFetchItem(p *parser, req *fetchRequest) error {
	name := strings.ToUpper(p.word(".")) // atom including '.'; '[' stops it? no: '[' is an atom char
	base, rest, hasSection := strings.Cut(name, "[")
	add := func(it fetchItem) { req.items = append(req.items, it) }
	if !hasSection {
		switch name {
		case "ALL", "FAST", "FULL":
			add(fetchItem{kind: fiFlags})
			add(fetchItem{kind: fiInternalDate})
			add(fetchItem{kind: fiSize})
			if name != "FAST" {
				add(fetchItem{kind: fiEnvelope})
			}
			if name == "FULL" {
				add(fetchItem{kind: fiBody})
				req.needStructure = true
			}
		case "FLAGS":
			add(fetchItem{kind: fiFlags})
		case "UID":
			add(fetchItem{kind: fiUID})
		case "INTERNALDATE":
			add(fetchItem{kind: fiInternalDate})
		case "RFC822.SIZE":
			add(fetchItem{kind: fiSize})
		case "ENVELOPE":
			add(fetchItem{kind: fiEnvelope})
		case "BODYSTRUCTURE":
			add(fetchItem{kind: fiBodyStructure})
			req.needStructure = true
		case "BODY":
			add(fetchItem{kind: fiBody})
			req.needStructure = true
		case "MODSEQ":
			add(fetchItem{kind: fiModSeq})
		case "RFC822":
			add(fetchItem{kind: fiSection, label: "RFC822", whole: true})
			req.setSeen = true
		case "RFC822.HEADER":
			add(fetchItem{kind: fiSection, label: "RFC822.HEADER", section: message.Section{Specifier: "HEADER"}, peek: true})
			req.needParse = true
		case "RFC822.TEXT":
			add(fetchItem{kind: fiSection, label: "RFC822.TEXT", section: message.Section{Specifier: "TEXT"}})
			req.needParse, req.setSeen = true, true
		default:
			return errSyntax("unknown FETCH item %q", name)
		}
		return nil
	}
	switch base {
	case "BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE":
	default:
		return errSyntax("unknown FETCH item %q", base)
	}
	// The section may hold "(From To)": read up to the closing ']'.
	p.pos -= len(rest)
	start := p.pos
	depth := 0
	for p.pos < len(p.line) && (p.line[p.pos] != ']' || depth > 0) {
		switch p.line[p.pos] {
		case '(':
			depth++
		case ')':
			depth--
		}
		p.pos++
	}
	if p.pos >= len(p.line) {
		return errSyntax("missing ']' in section")
	}
	spec := string(p.line[start:p.pos])
	p.pos++
	if strings.HasPrefix(base, "BINARY") {
		return parseBinaryItem(p, req, base, spec)
	}
	it := fetchItem{kind: fiSection, peek: base == "BODY.PEEK"}
	if spec == "" {
		it.whole = true
	} else {
		sec, err := message.ParseSection(spec)
		if err != nil {
			return errSyntax("bad section %q", spec)
		}
		it.section = sec
		req.needParse = true
	}
	it.label = "BODY[" + strings.ToUpper(spec) + "]"
	if err := parsePartial(p, &it); err != nil {
		return err
	}
	if !it.peek {
		req.setSeen = true
	}
	add(it)
	return nil
}

// parsePartial reads an optional "<offset.count>" after a section; the
// response's label gets "<offset>".
func parsePartial(p *parser, it *fetchItem) error {
	if !p.tryByte('<') {
		return nil
	}
	off, err := p.number()
	if err != nil {
		return err
	}
	if err := p.expect('.'); err != nil {
		return err
	}
	n, err := p.number()
	if err != nil || n == 0 {
		return errSyntax("bad partial")
	}
	if err := p.expect('>'); err != nil {
		return err
	}
	it.partial, it.offset, it.count = true, int64(off), int64(n)
	it.label += "<" + strconv.FormatUint(off, 10) + ">"
	return nil
}

// parseBinaryItem reads the rest of BINARY[path]<partial>,
// BINARY.PEEK[...] or BINARY.SIZE[path] (RFC 9051 §6.4.5, RFC 3516): the
// section is part numbers only (section-binary).
func parseBinaryItem(p *parser, req *fetchRequest, base, spec string) error {
	sec, err := message.ParseSection(spec)
	if err != nil || sec.Specifier != "" {
		return errSyntax("bad binary section %q", spec)
	}
	it := fetchItem{kind: fiBinary, section: sec, whole: len(sec.Path) == 0, peek: base == "BINARY.PEEK"}
	if base == "BINARY.SIZE" {
		it.kind = fiBinarySize
		it.label = "BINARY.SIZE[" + spec + "]"
	} else {
		it.label = "BINARY[" + spec + "]"
		if err := parsePartial(p, &it); err != nil {
			return err
		}
		if !it.peek {
			req.setSeen = true
		}
	}
	if !it.whole {
		req.needParse = true
	}
	req.binary = true
	req.items = append(req.items, it)
	return nil
}

func (s *session) cmdFetch(c *cmd) error {
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
	req, err := parseFetchItems(p)
	if err != nil {
		return err
	}
	if err := p.end(); err != nil {
		return err
	}
	if req.vanished && (!c.uid || !s.qresync || req.changedSince == 0) {
		return bad("VANISHED needs UID FETCH with CHANGEDSINCE and QRESYNC enabled.")
	}
	if req.changedSince > 0 {
		s.condstore = true
		req.items = append(req.items, fetchItem{kind: fiModSeq})
	}
	for _, it := range req.items {
		if it.kind == fiModSeq {
			s.condstore = true
		}
	}
	if c.uid {
		req.items = append([]fetchItem{{kind: fiUID}}, req.items...)
	}
	idx, err := s.resolve(set, c.uid)
	if err != nil {
		return err
	}
	msgs := s.mbox.Messages()
	if req.vanished {
		if err := s.fetchVanished(set, msgs); err != nil {
			return err
		}
	}
	seen := map[uint32]bool{}
	if req.setSeen && !s.readOnly {
		var uids []uint32
		for _, i := range idx {
			if m := &msgs[i]; !hasFlag(m.Flags, store.FlagSeen) && (req.changedSince == 0 || m.ModSeq > req.changedSince) {
				uids = append(uids, m.UID)
				seen[m.UID] = true
			}
		}
		if len(uids) > 0 {
			if _, err := s.mbox.Store(s.ctx, uids, store.FlagsAdd, []string{store.FlagSeen}, 0); err != nil {
				return s.storeError("fetch", err)
			}
			msgs = s.mbox.Messages()
		}
	}
	f := &fetcher{s: s, req: req}
	for _, i := range idx {
		m := &msgs[i]
		if req.changedSince > 0 && m.ModSeq <= req.changedSince {
			continue
		}
		if err := f.message(i+1, m, seen[m.UID]); err != nil {
			return err
		}
	}
	return nil
}

// resolve turns a set into indexes of the view's messages: "$" is the
// saved search result; sequence numbers beyond the mailbox are BAD.
func (s *session) resolve(set seqSet, uid bool) ([]int, error) {
	msgs := s.mbox.Messages()
	if set.saved {
		var idx []int
		for _, u := range s.saved {
			if i, ok := findUID(msgs, u); ok {
				idx = append(idx, i)
			}
		}
		return idx, nil
	}
	if uid {
		return set.uidIndexes(msgs), nil
	}
	idx, badSeq := set.seqIndexes(len(msgs))
	if badSeq {
		return nil, bad("Error in IMAP command: Invalid messageset.")
	}
	return idx, nil
}

func (s *session) fetchVanished(set seqSet, msgs []store.Message) error {
	st := s.mbox.Status()
	var gone []uint32
	for _, r := range set.ranges {
		lo, hi := r.norm(st.UIDNext - 1)
		if hi >= st.UIDNext {
			hi = st.UIDNext - 1
		}
		if hi-lo > 1<<20 {
			hi = lo + 1<<20
		}
		for u := lo; u <= hi && u != 0; u++ {
			if _, ok := findUID(msgs, u); !ok {
				gone = append(gone, u)
			}
		}
	}
	if len(gone) == 0 {
		return nil
	}
	s.buf = append(s.buf[:0], "* VANISHED (EARLIER) "...)
	s.buf = appendNumSet(s.buf, uidSetSorted(gone))
	s.buf = append(s.buf, "\r\n"...)
	return s.writeBuf()
}

func uidSetSorted(u []uint32) []uint32 { return slices.Sorted(slices.Values(u)) }

func hasFlag(flags []string, f string) bool {
	for _, x := range flags {
		if strings.EqualFold(x, f) {
			return true
		}
	}
	return false
}

// fetcher writes FETCH responses, opening and parsing a message only when
// an item needs its content.
type fetcher struct {
	s   *session
	req *fetchRequest

	// per message
	uid  uint32
	size int64
	file io.ReadSeekCloser
	ra   io.ReaderAt
	part *message.Part
	lr   io.LimitedReader // writeWhole's, reused
	bin  [][]byte         // per item: BINARY's content, BINARY.SIZE's number
}

const internalDateLayout = "_2-Jan-2006 15:04:05 -0700"

func (f *fetcher) message(seq int, m *store.Message, seenSet bool) (err error) {
	s := f.s
	f.uid, f.size, f.file, f.ra, f.part = m.UID, m.Size, nil, nil, nil
	defer func() {
		if f.file != nil {
			f.file.Close()
		}
	}()
	if f.req.binary {
		// Decoded first: a section that cannot be decoded fails the
		// command before anything of this message is sent.
		if err := f.binaries(); err != nil {
			return err
		}
	}
	b := append(s.buf[:0], "* "...)
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, " FETCH ("...)
	n := len(b)
	sp := func() {
		if len(b) > n {
			b = append(b, ' ')
		}
	}
	didFlags, didUID, didModSeq := false, false, false
	for i := range f.req.items {
		it := &f.req.items[i]
		switch it.kind {
		case fiFlags:
			if didFlags {
				continue
			}
			didFlags = true
			sp()
			b = append(b, "FLAGS "...)
			b = appendFlagList(b, m.Flags)
		case fiUID:
			if didUID {
				continue
			}
			didUID = true
			sp()
			b = append(b, "UID "...)
			b = strconv.AppendUint(b, uint64(m.UID), 10)
		case fiModSeq:
			if didModSeq {
				continue
			}
			didModSeq = true
			sp()
			b = append(b, "MODSEQ ("...)
			b = strconv.AppendUint(b, m.ModSeq, 10)
			b = append(b, ')')
		case fiInternalDate:
			sp()
			b = append(b, "INTERNALDATE \""...)
			b = m.InternalDate.AppendFormat(b, internalDateLayout)
			b = append(b, '"')
		case fiSize:
			sp()
			b = append(b, "RFC822.SIZE "...)
			b = strconv.AppendInt(b, m.Size, 10)
		case fiEnvelope, fiBodyStructure, fiBody:
			v, err := f.cached(it.kind)
			if err != nil {
				return err
			}
			sp()
			b = append(b, [...]string{fiEnvelope: "ENVELOPE ", fiBodyStructure: "BODYSTRUCTURE ", fiBody: "BODY "}[it.kind]...)
			b = append(b, v...)
		case fiSection:
			sp()
			b = append(b, it.label...)
			b = append(b, ' ')
			if it.whole {
				// Stream the file: BODY[] of big messages is not copied.
				s.buf = b
				if err := f.writeWhole(it); err != nil {
					return err
				}
				b = s.buf[:0]
				n = -1 // a space is always needed from now on
				continue
			}
			data, err := f.extract(it)
			if err != nil {
				return err
			}
			b = appendLiteral(b, data)
		case fiBinary:
			sp()
			b = append(b, it.label...)
			b = append(b, ' ')
			b = appendLiteral8(b, f.bin[i])
		case fiBinarySize:
			sp()
			b = append(b, it.label...)
			b = append(b, ' ')
			b = append(b, f.bin[i]...)
		}
		if n < 0 {
			n = 0
		}
	}
	if seenSet && !didFlags {
		sp()
		b = append(b, "FLAGS "...)
		b = appendFlagList(b, m.Flags)
	}
	b = append(b, ")\r\n"...)
	s.buf = b
	return s.writeBuf()
}

// open opens the message file.
func (f *fetcher) open() error {
	if f.file != nil {
		return nil
	}
	file, err := f.s.mbox.Open(f.uid)
	if err != nil {
		return f.s.storeError("fetch", err)
	}
	f.file = file
	return nil
}

// readerAt gives random access to the message, for a parse and sections:
// the file itself when it can, else its content read whole.
func (f *fetcher) readerAt() error {
	if f.ra != nil {
		return nil
	}
	if err := f.open(); err != nil {
		return err
	}
	if ra, ok := f.file.(io.ReaderAt); ok {
		f.ra = ra
		return nil
	}
	if _, err := f.file.Seek(0, io.SeekStart); err != nil {
		return f.s.storeError("fetch", err)
	}
	data, err := io.ReadAll(io.LimitReader(f.file, f.size+1))
	if err != nil {
		return f.s.storeError("fetch", err)
	}
	f.ra = bytes.NewReader(data)
	return nil
}

// parsed returns the message's MIME structure.
func (f *fetcher) parsed() (*message.Part, error) {
	if f.part != nil {
		return f.part, nil
	}
	if err := f.readerAt(); err != nil {
		return nil, err
	}
	part, err := message.Parse(f.ra, f.size)
	if err != nil {
		return nil, f.s.storeError("parse", fmt.Errorf("parsing message UID %d: %w", f.uid, err))
	}
	f.part = part
	return part, nil
}

var cacheField = [...]string{fiEnvelope: "envelope", fiBodyStructure: "bodystructure", fiBody: "body"}

// cached returns ENVELOPE, BODYSTRUCTURE or BODY from the index cache,
// filling it on a miss.
func (f *fetcher) cached(k fetchKind) ([]byte, error) {
	mb := f.s.mbox
	if v, ok := mb.Cache(f.uid, cacheField[k]); ok {
		return v, nil
	}
	if k == fiEnvelope && f.part == nil && !f.req.needParse && !f.req.needStructure {
		// The header alone makes the ENVELOPE (and the search record,
		// cached too since the header is at hand, as Dovecot caches the
		// envelope's fields one by one).
		if err := f.open(); err != nil {
			return nil, err
		}
		hdr, err := readHeader(f.file, f.s.hdrBuf)
		if err != nil {
			return nil, f.s.storeError("fetch", fmt.Errorf("reading message UID %d: %w", f.uid, err))
		}
		f.s.hdrBuf = hdr
		if _, err := f.file.Seek(0, io.SeekStart); err != nil {
			return nil, f.s.storeError("fetch", err)
		}
		cacheSearchRecord(mb, f.uid, hdr)
		if len(hdr) < message.MaxHeader { // else cut: parse it all below
			v := message.HeaderEnvelope(hdr)
			mb.SetCache(f.uid, cacheField[k], v)
			return v, nil
		}
	}
	part, err := f.parsed()
	if err != nil {
		return nil, err
	}
	var v []byte
	switch k {
	case fiEnvelope:
		v = part.Envelope()
	case fiBodyStructure:
		v = part.BodyStructure(true)
	default:
		v = part.BodyStructure(false)
	}
	mb.SetCache(f.uid, cacheField[k], v)
	return v, nil
}

func (f *fetcher) extract(it *fetchItem) ([]byte, error) {
	part, err := f.parsed()
	if err != nil {
		return nil, err
	}
	data, err := part.Extract(f.ra, it.section)
	if err != nil {
		return nil, f.s.storeError("fetch", err)
	}
	if it.partial {
		data = partialOf(data, it.offset, it.count)
	}
	return data, nil
}

func partialOf(data []byte, off, n int64) []byte {
	if off >= int64(len(data)) {
		return nil
	}
	data = data[off:]
	if n < int64(len(data)) {
		data = data[:n]
	}
	return data
}

// writeWhole writes the whole message (or a partial range) as a literal,
// streaming it from the file into the connection's buffer.
func (f *fetcher) writeWhole(it *fetchItem) error {
	s := f.s
	if err := f.open(); err != nil {
		return err
	}
	off, n := int64(0), f.size
	if it.partial {
		off = min(it.offset, f.size)
		n = min(it.count, f.size-off)
	}
	s.buf = append(s.buf, '{')
	s.buf = strconv.AppendInt(s.buf, n, 10)
	s.buf = append(s.buf, "}\r\n"...)
	if err := s.writeBuf(); err != nil {
		return err
	}
	var src io.Reader
	if f.ra != nil {
		src = io.NewSectionReader(f.ra, off, n)
	} else if _, err := f.file.Seek(off, io.SeekStart); err != nil {
		s.srv.Log.Error("imapd: reading message", "uid", f.uid, "err", err)
	} else {
		src = f.file
	}
	var got int64
	var err error
	if src != nil {
		// bufio.Writer.ReadFrom reads straight into the connection's
		// buffer: no copy of the message in memory.
		f.lr = io.LimitedReader{R: src, N: n}
		got, err = s.w.ReadFrom(&f.lr)
	}
	if got < n {
		// The literal's length is promised: pad, so that the client stays
		// in step, and log the failure.
		s.srv.Log.Error("imapd: reading message", "uid", f.uid, "size", f.size, "read", got, "err", err)
		for ; got < n; got++ {
			s.w.WriteByte(' ')
		}
	}
	return nil
}
