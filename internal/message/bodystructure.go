package message

import (
	"strconv"
	"strings"
)

// emptyPart is what a multipart without parts shows (as Dovecot writes
// it): RFC 9051 wants at least one part.
const emptyPart = `("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)`

func (p *Part) envelope() []byte {
	if p.impl.env == nil {
		return envelope(nil)
	}
	return p.impl.env
}

func (p *Part) bodyStructure(extended bool) []byte {
	return p.appendBody(make([]byte, 0, 256), extended)
}

// appendBody appends the body (RFC 9051 "body") of the part.
func (p *Part) appendBody(b []byte, ext bool) []byte {
	im := &p.impl
	b = append(b, '(')
	if p.Type == "multipart" {
		if len(p.Parts) == 0 {
			b = append(b, emptyPart[:len(emptyPart)-1]...)
			if ext {
				b = append(b, " NIL NIL NIL NIL"...)
			}
			b = append(b, ')')
		}
		for _, c := range p.Parts {
			b = c.appendBody(b, ext)
		}
		b = append(b, ' ')
		b = appendString(b, im.csub)
		if ext {
			b = append(b, ' ')
			b = appendParams(b, im.params, false)
			b = appendExt(b, im)
		}
		return append(b, ')')
	}
	text := p.Type == "text"
	switch {
	case p.Message != nil && p.Subtype == "rfc822":
		b = append(b, `"message" "rfc822"`...)
	case im.ctype == "" && text:
		b = append(b, `"text" "plain"`...)
	case p.Message == nil && p.Type == "message" && (p.Subtype == "rfc822" || p.Subtype == "global"):
		// Not parsed (past the limits, or encoded): clients read
		// "message" "rfc822" as followed by an envelope, so it is
		// shown as opaque data.
		b = append(b, `"application" "octet-stream"`...)
	default:
		b = appendString(b, im.ctype)
		b = append(b, ' ')
		b = appendString(b, im.csub)
	}
	b = append(b, ' ')
	b = appendParams(b, im.params, text)
	b = append(b, ' ')
	b = appendNString(b, im.id.s, im.id.ok)
	b = append(b, ' ')
	b = appendNString(b, im.desc.s, im.desc.ok)
	b = append(b, ' ')
	if im.enc.ok {
		b = appendString(b, im.enc.s)
	} else {
		b = append(b, `"7bit"`...)
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, p.End-p.BodyStart, 10)
	switch {
	case text:
		b = append(b, ' ')
		b = strconv.AppendInt(b, p.Lines, 10)
	case p.Message != nil:
		b = append(b, ' ')
		b = append(b, p.Message.envelope()...)
		b = append(b, ' ')
		b = p.Message.appendBody(b, ext)
		b = append(b, ' ')
		b = strconv.AppendInt(b, p.Lines, 10)
	}
	if ext {
		b = append(b, ' ')
		b = appendNString(b, im.md5.s, im.md5.ok)
		b = appendExt(b, im)
	}
	return append(b, ')')
}

// appendParams appends a parameter list, or NIL; text parts without a
// charset get charset us-ascii (RFC 2045 §5.2).
func appendParams(b []byte, params []param, text bool) []byte {
	charset := false
	for _, p := range params {
		if strings.EqualFold(p.name, "charset") {
			charset = true
		}
	}
	if len(params) == 0 && !text {
		return append(b, "NIL"...)
	}
	b = append(b, '(')
	for i, p := range params {
		if i > 0 {
			b = append(b, ' ')
		}
		b = appendString(b, p.name)
		b = append(b, ' ')
		b = appendString(b, p.value)
	}
	if text && !charset {
		if len(params) > 0 {
			b = append(b, ' ')
		}
		b = append(b, `"charset" "us-ascii"`...)
	}
	return append(b, ')')
}

// appendExt appends the extension data shared by all bodies: disposition,
// language and location.
func appendExt(b []byte, im *partImpl) []byte {
	b = append(b, ' ')
	if im.disp.ok {
		b = append(b, '(')
		b = appendString(b, im.disp.s)
		b = append(b, ' ')
		b = appendParams(b, im.dispParams, false)
		b = append(b, ')')
	} else {
		b = append(b, "NIL"...)
	}
	b = append(b, ' ')
	if len(im.lang) == 0 {
		b = append(b, "NIL"...)
	} else {
		b = append(b, '(')
		for i, l := range im.lang {
			if i > 0 {
				b = append(b, ' ')
			}
			b = appendString(b, l)
		}
		b = append(b, ')')
	}
	b = append(b, ' ')
	return appendNString(b, im.loc.s, im.loc.ok)
}
