package password

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// needTool skips when a reference tool is missing, unless CI is set.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is needed in CI: %v", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
	}
	return p
}

// Vectors from Drepper's specification (SHA-crypt.txt, "Test vectors"),
// whole crypt strings for (setting, key).
func TestSHACryptSpecVectors(t *testing.T) {
	tests := []struct{ setting, key, want string }{
		{"$5$saltstring", "Hello world!", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"},
		{"$5$rounds=10000$saltstringsaltstring", "Hello world!", "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"},
		{"$5$rounds=5000$toolongsaltstring", "This is just a test", "$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5"},
		{"$5$rounds=1400$anotherlongsaltstring", "a very much longer text to encrypt.  This one even stretches over morethan one line.", "$5$rounds=1400$anotherlongsalts$Rx.j8H.h8HjEDGomFU8bDkXm3XIUnzyxf12oP84Bnq1"},
		{"$5$rounds=77777$short", "we have a short salt string but not a short password", "$5$rounds=77777$short$JiO1O3ZpDAxGJeaDIuqCoEFysAe1mZNJRs3pw0KQRd/"},
		{"$5$rounds=123456$asaltof16chars..", "a short string", "$5$rounds=123456$asaltof16chars..$gP3VQ/6X7UUEW3HkBn2w1/Ptq2jxPyzV/cZKmF/wJvD"},
		{"$5$rounds=10$roundstoolow", "the minimum number is still observed", "$5$rounds=1000$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC"},
		{"$6$saltstring", "Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
		{"$6$rounds=10000$saltstringsaltstring", "Hello world!", "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."},
		{"$6$rounds=77777$short", "we have a short salt string but not a short password", "$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0"},
		{"$6$rounds=10$roundstoolow", "the minimum number is still observed", "$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX."},
	}
	for _, tt := range tests {
		c, err := parseSHACrypt(tt.setting)
		if err != nil {
			t.Fatalf("parse %q: %v", tt.setting, err)
		}
		if got := shaCrypt(c, []byte(tt.key)); got != tt.want {
			t.Errorf("crypt(%q, %q)\n got %s\nwant %s", tt.key, tt.setting, got, tt.want)
		}
		if ok, err := Verify(tt.want, tt.key); !ok || err != nil {
			t.Errorf("Verify(%s) = %v, %v", tt.want, ok, err)
		}
	}
}

// Hashes of "secret" made by Dovecot 2.3's doveadm pw, and other
// well-known forms.
func TestVerifyVectors(t *testing.T) {
	tests := []struct {
		stored string
		ok     bool
		err    error
	}{
		{"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$xMSENHhheqrr1Xs7e2Avlg$ufdpmbznJ0n0rmBHxS9ax4uDnbhQYrZy1s7STMQ2kNo", true, nil},
		{"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$xMSENHhheqrr1Xs7e2Avlg$ufdpmbznJ0n0rmBHxS9ax4uDnbhQYrZy1s7STMQ2kNA", false, nil},
		{"{BLF-CRYPT}$2y$05$IkdR7htuYdVwc5M5.XeHJO/RrWC5bOr3rnJoCF/Lb0U1pvHfuA3OO", true, nil},
		{"{SCRAM-SHA-256}4096,etxchuSOU2j5rnzdWP1nNQ==,0N43oIL81YR78redt/CAEDLblquPRa5qA38vH8WcCVw=,blZlnrAWvskCVzSFoXDV7wqGRupxBxP2Xf1Ro0z86Gw=", true, nil},
		{"{SHA512-CRYPT}$6$Bd8Om7E1XKDxCZsN$4i1l2.HGkfIOp03l.Muih9C.ewV8AMvCoqKEUU9wWyp4m.gRBObS0OPfTrdUdIvu5dSv3/5pGiUwX3Z1BuqRO/", true, nil},
		{"{SHA256-CRYPT}$5$Ui9KyJEIUt49wT.B$mjtin1ihNgllYHln9j3fIjspOsUOHn0/ufZ9IiLNx4.", true, nil},
		{"{sha256-crypt}$5$Ui9KyJEIUt49wT.B$mjtin1ihNgllYHln9j3fIjspOsUOHn0/ufZ9IiLNx4.", true, nil}, // scheme names fold
		{"{CRYPT}$5$Ui9KyJEIUt49wT.B$mjtin1ihNgllYHln9j3fIjspOsUOHn0/ufZ9IiLNx4.", true, nil},
		{"$6$abc$IdWKNKTJEb8LxY7CGg8YBXlvtfZzFw7Mp/r6niK9YB2mdvgY..TKjv1T..8RadRt2qvUHYRLr/TsVArtr91iR1", true, nil}, // openssl passwd -6 -salt abc; no prefix: CRYPT
		{"{CRYPT}$2y$05$IkdR7htuYdVwc5M5.XeHJO/RrWC5bOr3rnJoCF/Lb0U1pvHfuA3OO", true, nil},
		{"{PLAIN}secret", true, nil},
		{"{CLEAR}secret", true, nil},
		{"{PLAIN}Secret", false, nil},
		{"{SHA512-CRYPT}$5$Ui9KyJEIUt49wT.B$mjtin1ihNgllYHln9j3fIjspOsUOHn0/ufZ9IiLNx4.", false, ErrMalformed},
		{"{CRYPT}$y$j9T$F5Jx5fExrKuPp53xLKQ..1$GmcwIgvdUC9qLWcKCi6gklUa1dM3ziD43YxYNURLKy0", false, ErrUnsupported},
		{"{CRYPT}abJnggxhB/yJU", false, ErrUnsupported}, // DES
		{"{MD5}whatever", false, ErrUnsupported},
		{"{ARGON2ID}$argon2id$v=19$m=99999999,t=3,p=1$xMSENHhheqrr1Xs7e2Avlg$ufdpmbznJ0n0rmBHxS9ax4uDnbhQYrZy1s7STMQ2kNo", false, ErrMalformed},
		{"{BLF-CRYPT}$2y$05$short", false, ErrMalformed},
		{"{SCRAM-SHA-256}4096,etxchuSOU2j5rnzdWP1nNQ==,AAAA", false, ErrMalformed},
	}
	for _, tt := range tests {
		ok, err := Verify(tt.stored, "secret")
		if ok != tt.ok || !errors.Is(err, tt.err) {
			t.Errorf("Verify(%s) = %v, %v; want %v, %v", tt.stored, ok, err, tt.ok, tt.err)
		}
	}
}

func TestHashRoundTrip(t *testing.T) {
	for _, s := range Schemes() {
		h, err := Hash(s, "pässword 1")
		if err != nil {
			t.Fatalf("Hash(%s): %v", s, err)
		}
		if got, _ := Split(h); got != s {
			t.Errorf("Hash(%s) = %s: scheme %s", s, h, got)
		}
		for pw, want := range map[string]bool{"pässword 1": true, "pässword 2": false, "": false} {
			if ok, err := Verify(h, pw); ok != want || err != nil {
				t.Errorf("Verify(%s, %q) = %v, %v; want %v", h, pw, ok, err, want)
			}
		}
	}
	if _, err := Hash("MD5", "x"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Hash(MD5) error = %v, want ErrUnsupported", err)
	}
	if h, _ := Hash(BlfCrypt, "x"); !strings.HasPrefix(h, "{BLF-CRYPT}$2y$12$") {
		t.Errorf("bcrypt hash %s: want Dovecot's $2y$ and cost 12", h)
	}
}

// TestCrossDovecot checks both directions against Dovecot's doveadm pw:
// its fresh hashes verify here, and ours verify there.
func TestCrossDovecot(t *testing.T) {
	doveadm := needTool(t, "doveadm")
	for _, s := range []string{Argon2ID, BlfCrypt, SHA512Crypt, SHA256Crypt, ScramSHA256, Plain} {
		out, err := exec.Command(doveadm, "pw", "-s", s, "-p", "pass:word").Output()
		if err != nil {
			t.Fatalf("doveadm pw -s %s: %v", s, err)
		}
		theirs := strings.TrimSpace(string(out))
		if ok, err := Verify(theirs, "pass:word"); !ok || err != nil {
			t.Errorf("Dovecot's %s does not verify: %v, %v", theirs, ok, err)
		}
		ours, err := Hash(s, "pass:word")
		if err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(doveadm, "pw", "-t", ours, "-p", "pass:word").CombinedOutput(); err != nil {
			t.Errorf("doveadm pw -t %s: %v: %s", ours, err, out)
		}
		if err := exec.Command(doveadm, "pw", "-t", ours, "-p", "wrong").Run(); err == nil {
			t.Errorf("doveadm accepts a wrong password for %s", ours)
		}
	}
}

// TestCrossOpenSSL: openssl passwd -5/-6 with random salts and rounds.
func TestCrossOpenSSL(t *testing.T) {
	openssl := needTool(t, "openssl")
	for _, flag := range []string{"-5", "-6"} {
		for _, pw := range []string{"x", "a somewhat longer password, over 32 bytes at least", "ünïcödé"} {
			out, err := exec.Command(openssl, "passwd", flag, pw).Output()
			if err != nil {
				t.Fatalf("openssl passwd %s: %v", flag, err)
			}
			h := strings.TrimSpace(string(out))
			c, err := parseSHACrypt(h)
			if err != nil {
				t.Fatal(err)
			}
			if got := shaCrypt(c, []byte(pw)); got != h {
				t.Errorf("openssl %s\n got %s", h, got)
			}
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, s := range []string{Argon2ID, BlfCrypt, SHA512Crypt} {
		h, err := Hash(s, "secret")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(s, func(b *testing.B) {
			for b.Loop() {
				Verify(h, "secret")
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	for _, s := range []string{
		"{ARGON2ID}$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$ufdpmbznJ0n0rmBHxS9ax4uDnbhQYrZy1s7STMQ2kNo",
		"{SHA512-CRYPT}$6$rounds=1000$abc$x",
		"{SCRAM-SHA-256}1,c2FsdA==,0N43oIL81YR78redt/CAEDLblquPRa5qA38vH8WcCVw=,blZlnrAWvskCVzSFoXDV7wqGRupxBxP2Xf1Ro0z86Gw=",
		"{BLF-CRYPT}$2y$04$IkdR7htuYdVwc5M5.XeHJO/RrWC5bOr3rnJoCF/Lb0U1pvHfuA3OO",
		"$5$x$y", "{PLAIN}", "{", "{}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, stored string) {
		// Keep the work of one input small: the parsers are the target.
		_, h := Split(stored)
		if a, err := parseArgon2(h); err == nil && (a.p.Memory > 1024 || a.p.Time > 2) {
			return
		}
		if c, err := parseSHACrypt(h); err == nil && c.rounds > 2000 {
			return
		}
		if k, err := ParseScram(h); err == nil && k.Iterations > 100 {
			return
		}
		if strings.Contains(h, "$2") {
			return // bcrypt's cost is unbounded up to 31: its parser is x/crypto's
		}
		ok, err := Verify(stored, "secret")
		if ok && err != nil {
			t.Fatalf("Verify(%q) = true with error %v", stored, err)
		}
	})
}
