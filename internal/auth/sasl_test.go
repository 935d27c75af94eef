package auth

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"mailhorn/internal/auth/password"
)

// scramClient is the client side of RFC 5802 for the tests.
func scramClient(t *testing.T, x Exchange, user, pw, cnonce string) (bool, error) {
	t.Helper()
	ctx := context.Background()
	gs2 := "n,,"
	bare := "n=" + strings.NewReplacer(",", "=2C", "=", "=3D").Replace(user) + ",r=" + cnonce
	sf, done, err := x.Next(ctx, []byte(gs2+bare))
	if err != nil || done {
		return done, err
	}
	var nonce, salt string
	var iter int
	for _, a := range strings.Split(string(sf), ",") {
		switch {
		case strings.HasPrefix(a, "r="):
			nonce = a[2:]
		case strings.HasPrefix(a, "s="):
			salt = a[2:]
		case strings.HasPrefix(a, "i="):
			for _, c := range a[2:] {
				iter = iter*10 + int(c-'0')
			}
		}
	}
	if !strings.HasPrefix(nonce, cnonce) || len(nonce) == len(cnonce) {
		t.Fatalf("server nonce %q does not extend %q", nonce, cnonce)
	}
	s, _ := base64.StdEncoding.DecodeString(salt)
	keys, err := password.ScramFromPassword(pw, s, iter)
	if err != nil {
		t.Fatal(err)
	}
	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte(gs2)) + ",r=" + nonce
	authMessage := bare + "," + string(sf) + "," + withoutProof
	// ClientKey = StoredKey's preimage: recompute it from the password.
	salted := pbkdf2For(t, pw, s, iter)
	clientKey := hmacSHA256(salted, "Client Key")
	sig := hmacSHA256(keys.StoredKey, authMessage)
	proof := make([]byte, len(clientKey))
	for i := range proof {
		proof[i] = clientKey[i] ^ sig[i]
	}
	final, done, err := x.Next(ctx, []byte(withoutProof+",p="+base64.StdEncoding.EncodeToString(proof)))
	if err != nil || done {
		return done, err
	}
	want := "v=" + base64.StdEncoding.EncodeToString(hmacSHA256(keys.ServerKey, authMessage))
	if !hmac.Equal(final, []byte(want)) {
		t.Fatalf("server signature %q, want %q", final, want)
	}
	_, done, err = x.Next(ctx, []byte{})
	return done, err
}

func pbkdf2For(t *testing.T, pw string, salt []byte, iter int) []byte {
	// SaltedPassword = Hi(pw, salt, i), RFC 5802 section 2.2, written out.
	u := hmacSHA256([]byte(pw), string(salt)+"\x00\x00\x00\x01")
	out := append([]byte(nil), u...)
	for i := 1; i < iter; i++ {
		u = hmacSHA256([]byte(pw), string(u))
		for j := range out {
			out[j] ^= u[j]
		}
	}
	return out
}

func TestScram(t *testing.T) {
	h, err := password.Hash(password.ScramSHA256, "pencil")
	if err != nil {
		t.Fatal(err)
	}
	s, _, _ := newService(t, "user@example.com:"+h+"\nplainuser:{PLAIN}pencil\n", nil)
	ctx := context.Background()
	for _, tt := range []struct {
		user, pw string
		ok       bool
	}{
		{"user@example.com", "pencil", true},
		{"User@Example.com", "pencil", true},
		{"user@example.com", "pen", false},
		{"unknown", "pencil", false},
		{"plainuser", "pencil", false}, // no stored keys: SCRAM cannot work
	} {
		x, err := s.Start(ctx, "SCRAM-SHA-256", client1, true)
		if err != nil {
			t.Fatal(err)
		}
		done, err := scramClient(t, x, tt.user, tt.pw, "fyko+d2lbbFgONRv9qkxdawL")
		if done != tt.ok || (tt.ok && err != nil) || (!tt.ok && !errors.Is(err, ErrFailed)) {
			t.Errorf("%s/%s: done %v, err %v", tt.user, tt.pw, done, err)
		}
		if tt.ok && (x.User() == nil || x.User().Name != "user@example.com") {
			t.Errorf("%s: user %+v", tt.user, x.User())
		}
		if !tt.ok && x.User() != nil {
			t.Errorf("%s: user after failure", tt.user)
		}
	}
	for _, first := range []string{"", "p=tls-unique,,n=a,r=b", "n,,m=x,n=a,r=b", "n,,n=a", "n,,n=a=,r=b", "x,,n=a,r=b", "n,,n=,r=b"} {
		x, _ := s.Start(ctx, "SCRAM-SHA-256", client1, true)
		if _, _, err := x.Next(ctx, []byte(first)); !errors.Is(err, ErrMalformed) {
			t.Errorf("client-first %q: %v", first, err)
		}
	}
	// The RFC 7677 section 3 example's first message is understood.
	x, _ := s.Start(ctx, "SCRAM-SHA-256", client1, true)
	if c, _, err := x.Next(ctx, []byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO")); err != nil || !strings.HasPrefix(string(c), "r=rOprNGfwEbeRWgbNEkqO") {
		t.Errorf("RFC 7677 client-first: %q, %v", c, err)
	}
}

func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"alice:{PLAIN}x:1:2:g:/h:/s:userdb_mail=x a=b", "b", ":", "a:b:c:d:e:f:g:h:i", "a:{X}y:::::: =x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		e, err := ParseLine(line)
		if err == nil {
			if _, ok := NormalizeName(e.User.Name); !ok {
				t.Fatalf("accepted bad name %q", e.User.Name)
			}
		}
		ParseFile(strings.NewReader(line), "fuzz")
	})
}

// FuzzExchange drives each mechanism with arbitrary responses, split at
// "|": no panic, and success only with the real password.
func FuzzExchange(f *testing.F) {
	f.Add("PLAIN", "\x00alice\x00secret")
	f.Add("PLAIN", "|alice\x00alice\x00x")
	f.Add("LOGIN", "alice|secret")
	f.Add("LOGIN", "|alice|secret|x")
	f.Add("SCRAM-SHA-256", "n,,n=alice,r=abc|c=biws,r=abc,p=AAAA")
	f.Add("SCRAM-SHA-256", "|y,a=alice,n=alice,r=x|")
	scram, _ := password.Hash(password.ScramSHA256, "secret")
	var s *Service
	f.Fuzz(func(t *testing.T, mech, input string) {
		if s == nil {
			s, _, _ = newService(t, "alice:{PLAIN}secret\nbob:"+scram+"\n", map[string]string{"auth_failure_limit": "0"})
			s.delay = 0
		}
		x, err := s.Start(context.Background(), mech, client1, true)
		if err != nil {
			return
		}
		for i, part := range strings.Split(input, "|") {
			var resp []byte
			if i > 0 || part != "" {
				resp = []byte(part)
			}
			_, done, err := x.Next(context.Background(), resp)
			if done && (err != nil || x.User() == nil) {
				t.Fatalf("done with err %v user %v", err, x.User())
			}
			if done && mech != "SCRAM-SHA-256" && !strings.Contains(input, "secret") {
				t.Fatalf("success without the password: %q", input)
			}
			if done || err != nil {
				return
			}
		}
	})
}
