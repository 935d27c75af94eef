package message

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// field is one header field: its name as written and its raw value (the
// white space after the colon removed, line breaks of folding kept).
type field struct {
	name, value string
}

// parseFields splits a header block into fields. Lines that are neither
// "name:" nor a continuation are skipped, as Dovecot does.
func parseFields(hdr []byte) []field {
	var fs []field
	s := string(hdr)
	for len(s) > 0 {
		line := s
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			line, s = s[:i+1], s[i+1:]
		} else {
			s = ""
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(fs) > 0 {
				fs[len(fs)-1].value += line
			}
			continue
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name := strings.TrimRight(line[:colon], " \t")
		if name == "" || strings.ContainsAny(name, " \t") {
			continue
		}
		fs = append(fs, field{name: name, value: strings.TrimLeft(line[colon+1:], " \t")})
	}
	for i := range fs {
		fs[i].value = strings.TrimRight(fs[i].value, "\r\n")
	}
	return fs
}

// first returns the first field called name.
func first(fs []field, name string) (string, bool) {
	for _, f := range fs {
		if strings.EqualFold(f.name, name) {
			return f.value, true
		}
	}
	return "", false
}

// nstr is a string that may be absent (NIL).
type nstr struct {
	s  string
	ok bool
}

// param is a Content-Type or Content-Disposition parameter as written in
// BODYSTRUCTURE (RFC 2231 continuations joined, the name keeping its case).
type param struct{ name, value string }

// partImpl holds what BODYSTRUCTURE and the section rules need.
type partImpl struct {
	ctype, csub   string // as written; "" when absent or invalid
	params        []param
	enc           nstr
	id, desc, md5 nstr
	loc           nstr
	disp          nstr
	dispParams    []param
	lang          []string
	env           []byte // ENVELOPE, for messages
	opaque        bool   // not descended into (limits, or no boundary)
}

// setHeader fills the part's content description from its header fields;
// digest tells that a missing Content-Type means message/rfc822.
func (part *Part) setHeader(fs []field, digest bool) {
	im := &part.impl
	seenCT := false
	for _, f := range fs {
		name := strings.ToLower(f.name)
		if !strings.HasPrefix(name, "content-") {
			continue
		}
		v := strings.TrimSpace(noLF(f.value))
		switch name[len("content-"):] {
		case "type":
			if seenCT {
				continue
			}
			seenCT = true
			im.ctype, im.csub, im.params = parseContentType(f.value)
		case "transfer-encoding":
			if !im.enc.ok {
				if t := firstToken(f.value); t != "" {
					im.enc = nstr{t, true}
				}
			}
		case "id":
			if !im.id.ok {
				im.id = nstr{v, true}
			}
		case "description":
			if !im.desc.ok {
				im.desc = nstr{v, true}
			}
		case "md5":
			if !im.md5.ok {
				im.md5 = nstr{v, true}
			}
		case "location":
			if !im.loc.ok {
				im.loc = nstr{v, true}
			}
		case "language":
			if im.lang == nil {
				im.lang = parseLanguage(f.value)
			}
		case "disposition":
			if !im.disp.ok {
				tz := tokenizer{s: f.value}
				tz.cfws()
				if t := tz.token(); t != "" {
					im.disp = nstr{t, true}
					im.dispParams = tz.params()
				}
			}
		}
	}
	switch {
	case im.ctype != "":
		part.Type, part.Subtype = strings.ToLower(im.ctype), strings.ToLower(im.csub)
	case digest:
		part.Type, part.Subtype = "message", "rfc822"
	default:
		part.Type, part.Subtype = "text", "plain"
	}
	part.Params = map[string]string{}
	for _, p := range im.params {
		name, value := strings.ToLower(p.name), p.value
		if strings.HasSuffix(name, "*") {
			name, value = name[:len(name)-1], decode2231(value)
		}
		if _, dup := part.Params[name]; !dup {
			part.Params[name] = value
		}
	}
	if _, ok := part.Params["charset"]; !ok && part.Type == "text" {
		part.Params["charset"] = "us-ascii"
	}
}

// tokenizer reads RFC 2045 tokens, quoted strings and comments.
type tokenizer struct {
	s string
	i int
}

// cfws skips white space, line breaks and (nested) comments.
func (t *tokenizer) cfws() {
	for t.i < len(t.s) {
		switch c := t.s[t.i]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			t.i++
		case c == '(':
			t.comment()
		default:
			return
		}
	}
}

// comment reads a comment (at '(') and returns its text.
func (t *tokenizer) comment() string {
	var b strings.Builder
	depth := 0
	for ; t.i < len(t.s); t.i++ {
		c := t.s[t.i]
		switch {
		case c == '\\' && t.i+1 < len(t.s):
			t.i++
			b.WriteByte(t.s[t.i])
			continue
		case c == '(':
			depth++
			if depth == 1 {
				continue
			}
		case c == ')':
			depth--
			if depth == 0 {
				t.i++
				return b.String()
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isTSpecial(c byte) bool {
	return strings.IndexByte("()<>@,;:\\\"/[]?= \t\r\n", c) >= 0 || c < 0x20 || c == 0x7f
}

// token reads an RFC 2045 token ("" if none).
func (t *tokenizer) token() string {
	j := t.i
	for j < len(t.s) && !isTSpecial(t.s[j]) {
		j++
	}
	tok := t.s[t.i:j]
	t.i = j
	return tok
}

// quoted reads a quoted string (at '"'), unescaped; an unterminated one
// runs to the end.
func (t *tokenizer) quoted() string {
	var b strings.Builder
	for t.i++; t.i < len(t.s); t.i++ {
		c := t.s[t.i]
		switch {
		case c == '\\' && t.i+1 < len(t.s):
			t.i++
			b.WriteByte(t.s[t.i])
		case c == '"':
			t.i++
			return b.String()
		case c == '\r' || c == '\n':
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// params reads "; name=value" parameters and joins RFC 2231
// continuations (name*0, name*1*...): plain parameters first in their
// order, then the joined ones sorted by name, as Dovecot does. A
// parameter that cannot be read ends the list.
func (t *tokenizer) params() []param {
	var plain []param
	type seg struct {
		n        int
		ext      bool
		value    string
		position int
	}
	conts := map[string][]seg{}
	var contNames []string
	for {
		t.cfws()
		if t.i >= len(t.s) {
			break
		}
		if t.s[t.i] != ';' {
			// Garbage between parameters: skip to the next ';'.
			j := strings.IndexByte(t.s[t.i:], ';')
			if j < 0 {
				break
			}
			t.i += j
		}
		t.i++
		t.cfws()
		name := t.token()
		t.cfws()
		if name == "" || t.i >= len(t.s) || t.s[t.i] != '=' {
			continue
		}
		t.i++
		t.cfws()
		var value string
		if t.i < len(t.s) && t.s[t.i] == '"' {
			value = t.quoted()
		} else {
			// Tolerate unquoted values with tspecials ("name=a/b.pdf").
			j := t.i
			for j < len(t.s) && t.s[j] != ';' && t.s[j] != ' ' && t.s[j] != '\t' && t.s[j] != '\r' && t.s[j] != '\n' {
				j++
			}
			value, t.i = t.s[t.i:j], j
		}
		star := strings.IndexByte(name, '*')
		if star < 0 || star == len(name)-1 {
			plain = append(plain, param{name, value})
			continue
		}
		base, num := name[:star], name[star+1:]
		ext := strings.HasSuffix(num, "*")
		num = strings.TrimSuffix(num, "*")
		n, err := strconv.Atoi(num)
		if err != nil || n < 0 || n > 999 {
			plain = append(plain, param{name, value})
			continue
		}
		key := strings.ToLower(base)
		if _, ok := conts[key]; !ok {
			contNames = append(contNames, base)
		}
		conts[key] = append(conts[key], seg{n: n, ext: ext, value: value, position: len(conts[key])})
	}
	sort.Slice(contNames, func(i, j int) bool { return strings.ToLower(contNames[i]) < strings.ToLower(contNames[j]) })
	for _, base := range contNames {
		segs := conts[strings.ToLower(base)]
		sort.SliceStable(segs, func(i, j int) bool { return segs[i].n < segs[j].n })
		var b strings.Builder
		ext := false
		for i, s := range segs {
			if s.n != i {
				break // a missing piece ends the value
			}
			if i == 0 {
				ext = s.ext
			}
			b.WriteString(s.value)
		}
		name := base
		if ext {
			name += "*"
		}
		plain = append(plain, param{name, b.String()})
	}
	return plain
}

// parseContentType reads "type/subtype; params". An invalid type gives
// empty type and subtype (text/plain by default), and no parameters.
func parseContentType(v string) (typ, sub string, params []param) {
	t := tokenizer{s: v}
	t.cfws()
	typ = t.token()
	t.cfws()
	if typ == "" || t.i >= len(t.s) || t.s[t.i] != '/' {
		return "", "", nil
	}
	t.i++
	t.cfws()
	sub = t.token()
	if sub == "" {
		return "", "", nil
	}
	return typ, sub, t.params()
}

// firstToken is the first token of a header value (Content-Transfer-Encoding).
func firstToken(v string) string {
	t := tokenizer{s: v}
	t.cfws()
	return t.token()
}

// parseLanguage reads Content-Language: a comma-separated list of tags.
func parseLanguage(v string) []string {
	var tags []string
	t := tokenizer{s: v}
	for {
		t.cfws()
		tag := t.token()
		if tag == "" {
			break
		}
		tags = append(tags, tag)
		t.cfws()
		if t.i >= len(t.s) || t.s[t.i] != ',' {
			break
		}
		t.i++
	}
	return tags
}

// decode2231 decodes an RFC 2231 extended value "charset'lang'%XX..." to
// UTF-8; a value it cannot decode is returned as it is.
func decode2231(v string) string {
	parts := strings.SplitN(v, "'", 3)
	if len(parts) != 3 {
		return v
	}
	raw, err := url.PathUnescape(parts[2])
	if err != nil {
		return v
	}
	s, err := toUTF8(parts[0], []byte(raw))
	if err != nil {
		return raw
	}
	return s
}
