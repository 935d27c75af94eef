package password

import (
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// SHA-crypt ($5$ SHA-256, $6$ SHA-512) as specified by Ulrich Drepper,
// "Unix crypt using SHA-256 and SHA-512" (version 0.6, 2016):
// https://www.akkadia.org/drepper/SHA-crypt.txt

const (
	shaRoundsDefault = 5000
	shaRoundsMin     = 1000
	shaRoundsMax     = 999999999
	shaSaltMax       = 16
)

// shaCryptSetting is a parsed $5$ or $6$ string.
type shaCryptSetting struct {
	id     byte // '5' or '6'
	rounds int
	custom bool // "rounds=" was given: it is part of the output
	salt   string
	hash   string // the encoded digest; "" in a bare setting
}

// parseSHACrypt parses "$6$[rounds=N$]salt[$hash]". Out-of-range rounds
// are clamped as the specification says; the salt is cut to 16 bytes.
func parseSHACrypt(s string) (shaCryptSetting, error) {
	var c shaCryptSetting
	if len(s) < 3 || s[0] != '$' || (s[1] != '5' && s[1] != '6') || s[2] != '$' {
		return c, errors.New("not a $5$ or $6$ SHA-crypt string")
	}
	c.id, c.rounds = s[1], shaRoundsDefault
	rest := s[3:]
	if r, ok := strings.CutPrefix(rest, "rounds="); ok {
		num, after, found := strings.Cut(r, "$")
		n, err := strconv.ParseUint(num, 10, 64)
		if !found || err != nil {
			return c, fmt.Errorf("bad rounds= in SHA-crypt string")
		}
		c.rounds, c.custom, rest = int(min(max(n, shaRoundsMin), shaRoundsMax)), true, after
	}
	salt, h, _ := strings.Cut(rest, "$")
	if len(salt) > shaSaltMax {
		salt = salt[:shaSaltMax]
	}
	if strings.ContainsAny(salt, ":\n") {
		return c, errors.New("bad salt in SHA-crypt string")
	}
	c.salt, c.hash = salt, h
	return c, nil
}

// shaCrypt computes the whole crypt string for password and setting c.
func shaCrypt(c shaCryptSetting, password []byte) string {
	newHash := sha512.New
	if c.id == '5' {
		newHash = sha256.New
	}
	key, salt := password, []byte(c.salt)

	// Digest B: key, salt, key.
	b := digest(newHash, key, salt, key)
	// Digest A: key, salt, B repeated for len(key) bytes, then for each
	// bit of len(key) from the lowest: B for 1, key for 0.
	h := newHash()
	h.Write(key)
	h.Write(salt)
	writeRepeated(h, b, len(key))
	for n := len(key); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write(b)
		} else {
			h.Write(key)
		}
	}
	a := h.Sum(nil)
	// P: digest of the key repeated len(key) times, stretched to len(key).
	h.Reset()
	for range len(key) {
		h.Write(key)
	}
	p := stretch(h.Sum(nil), len(key))
	// S: digest of the salt repeated 16+A[0] times, stretched to len(salt).
	h.Reset()
	for range 16 + int(a[0]) {
		h.Write(salt)
	}
	s := stretch(h.Sum(nil), len(salt))
	// The rounds.
	for i := range c.rounds {
		h.Reset()
		if i&1 != 0 {
			h.Write(p)
		} else {
			h.Write(a)
		}
		if i%3 != 0 {
			h.Write(s)
		}
		if i%7 != 0 {
			h.Write(p)
		}
		if i&1 != 0 {
			h.Write(a)
		} else {
			h.Write(p)
		}
		a = h.Sum(a[:0]) // a was consumed by Write: its array is free
	}

	var out strings.Builder
	out.WriteString("$" + string(c.id) + "$")
	if c.custom {
		out.WriteString("rounds=" + strconv.Itoa(c.rounds) + "$")
	}
	out.WriteString(c.salt + "$")
	if c.id == '6' {
		for i := range 21 {
			x, y, z := i, i+21, i+42
			switch i % 3 {
			case 1:
				x, y, z = y, z, x
			case 2:
				x, y, z = z, x, y
			}
			b64From24(&out, a[x], a[y], a[z], 4)
		}
		b64From24(&out, 0, 0, a[63], 2)
	} else {
		for i := range 10 {
			x, y, z := i, i+10, i+20
			switch i % 3 {
			case 1:
				x, y, z = z, x, y
			case 2:
				x, y, z = y, z, x
			}
			b64From24(&out, a[x], a[y], a[z], 4)
		}
		b64From24(&out, 0, a[31], a[30], 3)
	}
	return out.String()
}

func digest(newHash func() hash.Hash, parts ...[]byte) []byte {
	h := newHash()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// writeRepeated writes n bytes of d repeated.
func writeRepeated(h hash.Hash, d []byte, n int) {
	for ; n > len(d); n -= len(d) {
		h.Write(d)
	}
	h.Write(d[:n])
}

func stretch(d []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out) < n {
		out = append(out, d[:min(len(d), n-len(out))]...)
	}
	return out
}

// cryptAlphabet is crypt(3)'s base-64 alphabet.
const cryptAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func b64From24(out *strings.Builder, b2, b1, b0 byte, n int) {
	w := uint32(b2)<<16 | uint32(b1)<<8 | uint32(b0)
	for range n {
		out.WriteByte(cryptAlphabet[w&0x3f])
		w >>= 6
	}
}
