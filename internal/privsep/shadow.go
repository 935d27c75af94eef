package privsep

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"mailhorn/internal/auth/password"
	"mailhorn/internal/deliver"
)

// OpShadow verifies a Unix user's password against /etc/shadow, which
// only root may read: As.User names the account, Content carries the
// password (never part of the encoded request, so never logged), and the
// Result says yes (Sent, with the account's ShadowAccount as JSON in
// Data), no (Bounced), or could not tell (Deferred). The privileged
// parent answers it itself, one request at a time, without starting a
// helper: it is a read of a root-only file and a hash computation, not an
// action as a user.
const OpShadow Op = "shadow"

// ShadowFiles are the account databases OpShadow reads.
type ShadowFiles struct {
	Passwd string // default /etc/passwd
	Shadow string // default /etc/shadow
}

// DefaultShadowFiles are the system's.
func DefaultShadowFiles() ShadowFiles {
	return ShadowFiles{Passwd: "/etc/passwd", Shadow: "/etc/shadow"}
}

// ShadowAccount is what a successful check tells of the account.
type ShadowAccount struct {
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
	Home string `json:"home"`
}

// ErrShadowRefused is a wrong password, an unknown or locked account, or
// root: never told apart.
var ErrShadowRefused = errors.New("unix password check failed")

// maxShadowPassword bounds the password read from a request.
const maxShadowPassword = 1024

// shadowDummy is verified for unknown and refused accounts so that they
// take the time of a real check (SHA-512 crypt at the default rounds,
// what most shadow files hold).
const shadowDummy = "$6$mailhornDummy$ywRhqz7XIwHOcpF2aVDS4IoSHUmP0JyEhiI6ndIbUUajiKm2FUxB1vC2GFDkLuUPAoqZH/DcDsilAUZ/.kBZt."

// CheckShadow verifies name's password against the passwd and shadow
// files. Root (uid 0), accounts with a locked ("!", "*") or empty hash
// and unknown names are refused with ErrShadowRefused after the same
// work as a wrong password. A hash method that cannot be verified
// (yescrypt) gives an error wrapping password.ErrUnsupported; a file
// that cannot be read, another error.
func CheckShadow(files ShadowFiles, name, pw string) (ShadowAccount, error) {
	dummy := func() (ShadowAccount, error) {
		password.Verify(shadowDummy, pw)
		return ShadowAccount{}, ErrShadowRefused
	}
	if name == "" || strings.ContainsAny(name, ":\n\x00") {
		return dummy()
	}
	pf, found, err := findColonLine(files.Passwd, name)
	if err != nil {
		return ShadowAccount{}, err
	}
	if !found || len(pf) < 7 {
		return dummy()
	}
	uid, err1 := strconv.Atoi(pf[2])
	gid, err2 := strconv.Atoi(pf[3])
	if err1 != nil || err2 != nil || uid <= 0 {
		return dummy()
	}
	sf, found, err := findColonLine(files.Shadow, name)
	if err != nil {
		return ShadowAccount{}, err
	}
	if !found || len(sf) < 2 {
		return dummy()
	}
	hash := sf[1]
	if hash == "" || strings.HasPrefix(hash, "!") || strings.HasPrefix(hash, "*") {
		return dummy()
	}
	// The scheme prefix syntax is Dovecot's: a shadow hash is crypt(3)'s.
	ok, err := password.Verify("{CRYPT}"+hash, pw)
	if err != nil {
		return ShadowAccount{}, fmt.Errorf("user %s in %s: %w", name, files.Shadow, err)
	}
	if !ok {
		return ShadowAccount{}, ErrShadowRefused
	}
	return ShadowAccount{UID: uid, GID: gid, Home: pf[5]}, nil
}

// findColonLine returns the fields of the first line of a passwd-style
// file whose first field is name.
func findColonLine(path, name string) ([]string, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4096), 64<<10)
	prefix := name + ":"
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, prefix) {
			return strings.Split(line, ":"), true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	return nil, false, nil
}

// shadowResult performs an OpShadow request.
func shadowResult(req *Request, files ShadowFiles) Result {
	if err := req.Check(); err != nil {
		return Resultf(deliver.Deferred, "4.3.5", "bad password check request: %v", err)
	}
	var pw []byte
	if req.Content != nil {
		var err error
		pw, err = io.ReadAll(io.LimitReader(req.Content, maxShadowPassword+1))
		if err != nil {
			return Resultf(deliver.Deferred, "4.3.0", "read password: %v", err)
		}
	}
	if len(pw) > maxShadowPassword {
		pw = nil // refused below, after the same work
	}
	acct, err := CheckShadow(files, req.As.User, string(pw))
	switch {
	case err == nil:
		data, _ := json.Marshal(acct)
		return Result{Status: deliver.Sent, DSN: "2.0.0", Data: data}
	case errors.Is(err, ErrShadowRefused):
		return Resultf(deliver.Bounced, "5.7.8", "authentication failed")
	case errors.Is(err, password.ErrUnsupported):
		return Resultf(deliver.Bounced, "5.7.0", "%v", err)
	}
	return Resultf(deliver.Deferred, "4.3.0", "%v", err)
}

// ShadowAnswer decodes an OpShadow Result: the account, or
// ErrShadowRefused, or an error wrapping password.ErrUnsupported (the
// hash method), or another error (the check could not be made).
func ShadowAnswer(res Result) (ShadowAccount, error) {
	switch {
	case res.Status == deliver.Sent:
		var a ShadowAccount
		if err := json.Unmarshal(res.Data, &a); err != nil {
			return a, fmt.Errorf("bad password check answer: %w", err)
		}
		return a, nil
	case res.Status == deliver.Bounced && res.DSN == "5.7.8":
		return ShadowAccount{}, ErrShadowRefused
	case res.Status == deliver.Bounced:
		return ShadowAccount{}, fmt.Errorf("%w: %s", password.ErrUnsupported, res.Text)
	}
	return ShadowAccount{}, fmt.Errorf("unix password check: %s", res.Text)
}
