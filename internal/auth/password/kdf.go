package password

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Argon2Params are Argon2id's cost parameters.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	KeyLen  uint32
	SaltLen int
}

// DefaultArgon2 is RFC 9106 section 4's second recommended option
// (64 MiB, 3 passes, 4 lanes, 128-bit salt, 256-bit tag). Measured on the
// 2-core build machine: about 0.1 s per verification (see
// BenchmarkVerify), well under the half-second budget, and memory-hard.
var DefaultArgon2 = Argon2Params{Memory: 64 * 1024, Time: 3, Threads: 4, KeyLen: 32, SaltLen: 16}

// BcryptCost is the cost of new BLF-CRYPT hashes (about 0.25 s here).
const BcryptCost = 12

// ScramIterations is the PBKDF2 iteration count of new SCRAM-SHA-256
// keys (RFC 7677 asks for at least 4096; Dovecot uses 4096).
const ScramIterations = 4096

// Bounds on parameters read from a stored hash, so that one line of a
// table cannot make a verification take a server's memory or hours.
const (
	maxArgon2Memory = 1 << 21 // KiB: 2 GiB
	maxArgon2Time   = 64
	maxKeyLen       = 1024
	maxScramIter    = 1 << 24
)

var b64 = base64.RawStdEncoding

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("random salt: %w", err)
	}
	return b, nil
}

// randomSalt returns n characters of crypt(3)'s alphabet.
func randomSalt(n int) (string, error) {
	b, err := randomBytes(n)
	if err != nil {
		return "", err
	}
	for i := range b {
		b[i] = cryptAlphabet[b[i]&0x3f]
	}
	return string(b), nil
}

// argon2Hash is a parsed "$argon2id$v=19$m=M,t=T,p=P$salt$hash" (PHC
// string format, unpadded standard base64), as Dovecot and libargon2
// write it.
type argon2Hash struct {
	p    Argon2Params
	salt []byte
	key  []byte
}

func parseArgon2(h string) (argon2Hash, error) {
	var a argon2Hash
	parts := strings.Split(h, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash; the version
	// may be absent in old strings (version 0x10).
	if len(parts) == 5 {
		parts = append(parts[:2], append([]string{"v=16"}, parts[2:]...)...)
	}
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return a, errors.New("not an $argon2id$ string")
	}
	if parts[2] != "v=19" {
		return a, fmt.Errorf("argon2 version %q (only v=19 is supported)", parts[2])
	}
	var m, t, p uint64
	seen := 0
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return a, fmt.Errorf("argon2 parameter %q", kv)
		}
		switch k {
		case "m":
			m, seen = n, seen|1
		case "t":
			t, seen = n, seen|2
		case "p":
			p, seen = n, seen|4
		case "keyid", "data":
		default:
			return a, fmt.Errorf("argon2 parameter %q", kv)
		}
	}
	if seen != 7 || m < 8*p || m > maxArgon2Memory || t < 1 || t > maxArgon2Time || p < 1 || p > 255 {
		return a, fmt.Errorf("argon2 parameters %q out of range", parts[3])
	}
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 1 || len(key) < 4 || len(key) > maxKeyLen {
		return a, errors.New("argon2 salt or hash is not base64 of a sensible length")
	}
	a.p = Argon2Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(p), KeyLen: uint32(len(key))}
	a.salt, a.key = salt, key
	return a, nil
}

func verifyArgon2(h, password string) (bool, error) {
	a, err := parseArgon2(h)
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	got := argon2.IDKey([]byte(password), a.salt, a.p.Time, a.p.Memory, a.p.Threads, a.p.KeyLen)
	return subtle.ConstantTimeCompare(got, a.key) == 1, nil
}

func hashArgon2(password string, p Argon2Params) (string, error) {
	salt, err := randomBytes(p.SaltLen)
	if err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// bcrypt uses only the first 72 bytes of a password, as every
// implementation (Dovecot's included) does.
const bcryptMaxPassword = 72

func verifyBcrypt(h, password string) (bool, error) {
	pw := []byte(password)
	if len(pw) > bcryptMaxPassword {
		pw = pw[:bcryptMaxPassword]
	}
	switch err := bcrypt.CompareHashAndPassword([]byte(h), pw); {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, fmt.Errorf("%w: bcrypt: %v", ErrMalformed, err)
	}
}

func hashBcrypt(password string, cost int) (string, error) {
	if len(password) > bcryptMaxPassword {
		return "", fmt.Errorf("password longer than bcrypt's %d bytes", bcryptMaxPassword)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", err
	}
	// Dovecot writes $2y$ (the same algorithm as Go's $2a$).
	return "$2y$" + strings.TrimPrefix(string(h), "$2a$"), nil
}

// ScramKeys are a SCRAM-SHA-256 credential (RFC 5802 section 3):
// Dovecot's "{SCRAM-SHA-256}iter,salt,storedkey,serverkey" with
// standard padded base64.
type ScramKeys struct {
	Iterations int
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
}

// ParseScram parses the hash part of a {SCRAM-SHA-256} entry.
func ParseScram(h string) (ScramKeys, error) {
	var k ScramKeys
	parts := strings.Split(h, ",")
	if len(parts) != 4 {
		return k, fmt.Errorf("%w: SCRAM-SHA-256 wants iter,salt,storedkey,serverkey", ErrMalformed)
	}
	n, err := strconv.Atoi(parts[0])
	if err != nil || n < 1 || n > maxScramIter {
		return k, fmt.Errorf("%w: SCRAM-SHA-256 iteration count %q", ErrMalformed, parts[0])
	}
	k.Iterations = n
	dec := base64.StdEncoding
	var errs [3]error
	k.Salt, errs[0] = dec.DecodeString(parts[1])
	k.StoredKey, errs[1] = dec.DecodeString(parts[2])
	k.ServerKey, errs[2] = dec.DecodeString(parts[3])
	if errors.Join(errs[:]...) != nil || len(k.Salt) == 0 || len(k.StoredKey) != sha256.Size || len(k.ServerKey) != sha256.Size {
		return k, fmt.Errorf("%w: SCRAM-SHA-256 salt or keys are not base64 of the right length", ErrMalformed)
	}
	return k, nil
}

// ScramFromPassword derives the SCRAM-SHA-256 keys of a password.
func ScramFromPassword(password string, salt []byte, iter int) (ScramKeys, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iter, sha256.Size)
	if err != nil {
		return ScramKeys{}, err
	}
	clientKey := mac(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	return ScramKeys{Iterations: iter, Salt: salt, StoredKey: stored[:], ServerKey: mac(salted, "Server Key")}, nil
}

func mac(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func verifyScram(h, password string) (bool, error) {
	k, err := ParseScram(h)
	if err != nil {
		return false, err
	}
	got, err := ScramFromPassword(password, k.Salt, k.Iterations)
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return subtle.ConstantTimeCompare(got.StoredKey, k.StoredKey) == 1, nil
}

func hashScram(password string, iter int) (string, error) {
	salt, err := randomBytes(16)
	if err != nil {
		return "", err
	}
	k, err := ScramFromPassword(password, salt, iter)
	if err != nil {
		return "", err
	}
	enc := base64.StdEncoding
	return fmt.Sprintf("%d,%s,%s,%s", iter, enc.EncodeToString(k.Salt), enc.EncodeToString(k.StoredKey), enc.EncodeToString(k.ServerKey)), nil
}
