package store

import (
	"bytes"
	"syscall"
	"unsafe"
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
