//go:build !unix

package maps

import (
	"errors"
	"os"
)

func mmapFile(f *os.File, size int) ([]byte, error) {
	return nil, errors.New("no mmap on this system")
}

func munmapFile(b []byte) error { return nil }
