//go:build !linux

package store

import "os"

func (d *dirList) readDir(dir string) error {
	fh, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer fh.Close()
	names, err := fh.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, n := range names {
		d.add([]byte(n))
	}
	return nil
}
