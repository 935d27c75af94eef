package privsep

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"mailhorn/internal/deliver"
)

// MaxReadSize bounds what OpRead returns: the reply travels in one
// message, base64-encoded.
const MaxReadSize = 64 << 10

// ErrUnsafeForward marks a .forward file that fails CheckForwardFile: it
// is ignored (with a warning), not waited for.
var ErrUnsafeForward = errors.New("unsafe .forward file")

// CheckForwardFile is local(8)'s test of a .forward file before it is
// believed: a regular file, owned by the user (or by root, then with one
// link), not world-writable.
func CheckForwardFile(path string, fi os.FileInfo, uid int) error {
	owner, links := -1, uint64(1)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		owner, links = int(st.Uid), uint64(st.Nlink)
	}
	switch {
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%w: file %s is not a regular file", ErrUnsafeForward, path)
	case owner != 0 && owner != uid:
		return fmt.Errorf("%w: file %s has bad owner uid %d", ErrUnsafeForward, path, owner)
	case fi.Mode().Perm()&0o002 != 0:
		return fmt.Errorf("%w: file %s is world writable", ErrUnsafeForward, path)
	case owner == 0 && uid != 0 && links != 1:
		return fmt.Errorf("%w: file %s is owned by root and has %d hard links", ErrUnsafeForward, path, links)
	}
	return nil
}

// ReadForwardFile reads a .forward file with the rights of this process,
// refusing symbolic links and checking it before and after opening. absent
// is true when there is no such file.
func ReadForwardFile(path string, uid int, limit int64) (data []byte, absent bool, err error) {
	before, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("cannot access file %s: %w", path, err)
	}
	if err := CheckForwardFile(path, before, uid); err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, false, fmt.Errorf("cannot open file %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("cannot open file %s: %w", path, err)
	}
	if !os.SameFile(before, fi) {
		return nil, false, fmt.Errorf("file %s changed while it was opened", path)
	}
	if err := CheckForwardFile(path, fi, uid); err != nil {
		return nil, false, err
	}
	data, err = io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, false, fmt.Errorf("read file %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, false, fmt.Errorf("%w: file %s is larger than %d bytes", ErrUnsafeForward, path, limit)
	}
	return data, false, nil
}

// read performs OpRead: a user's .forward, read with her rights because
// her home directory may be closed to the mail system.
func (x *executor) read(req *Request) Result {
	limit := req.SizeLimit
	if limit <= 0 || limit > MaxReadSize {
		limit = MaxReadSize
	}
	data, absent, err := ReadForwardFile(req.Path, req.As.UID, limit)
	if errors.Is(err, ErrUnsafeForward) {
		// Bounced here means: ignore the file (the caller warns).
		return Resultf(deliver.Bounced, "5.7.0", "%v", err)
	}
	if err != nil {
		return Resultf(deliver.Deferred, "4.3.0", "%v", err)
	}
	return Result{Status: deliver.Sent, DSN: "2.0.0", Data: data, Absent: absent}
}
