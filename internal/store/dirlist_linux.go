package store

import (
	"bytes"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// readDir reads the entries with getdents64 into a reused buffer: no
// string per name, and a few large system calls.
func (d *dirList) readDir(dir string) error {
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	var raw [32 * 1024]byte
	for {
		n, err := syscall.Getdents(fd, raw[:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n <= 0 {
			return nil
		}
		// struct linux_dirent64: ino u64, off i64, reclen u16, type u8, name.
		const nameOff = int(unsafe.Offsetof(syscall.Dirent{}.Name))
		for b := raw[:n]; len(b) >= nameOff; {
			reclen := int(*(*uint16)(unsafe.Pointer(&b[unsafe.Offsetof(syscall.Dirent{}.Reclen)])))
			if reclen < nameOff || reclen > len(b) {
				break
			}
			name := b[nameOff:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			d.add(name)
			b = b[reclen:]
		}
	}
}

// openRead opens a file read-only. path ends with a NUL: the kernel gets
// it as it is, with no C string made per call.
func openRead(path []byte) (int, error) {
	if len(path) == 0 || path[len(path)-1] != 0 {
		return -1, syscall.EINVAL
	}
	cwd := unix.AT_FDCWD // a variable: a negative constant cannot convert to uintptr
	for {
		fd, _, e := syscall.Syscall6(syscall.SYS_OPENAT, uintptr(cwd), uintptr(unsafe.Pointer(&path[0])),
			uintptr(syscall.O_RDONLY|syscall.O_CLOEXEC), 0, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return -1, e
		}
		return int(fd), nil
	}
}

// renameAt renames from to to, both in the directory dir and ending with
// a NUL (no C strings made per call).
func renameAt(dir int, from, to []byte) error {
	if len(from) == 0 || from[len(from)-1] != 0 || len(to) == 0 || to[len(to)-1] != 0 {
		return syscall.EINVAL
	}
	for {
		// renameat2 with no flags: every Linux architecture has it.
		_, _, e := syscall.Syscall6(unix.SYS_RENAMEAT2, uintptr(dir), uintptr(unsafe.Pointer(&from[0])),
			uintptr(dir), uintptr(unsafe.Pointer(&to[0])), 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}
