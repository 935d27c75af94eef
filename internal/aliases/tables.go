package aliases

import (
	"fmt"
	"os"
	"syscall"

	"mailhorn/internal/maps"
)

// OpenTables opens the alias tables named by specs (alias_maps) in order.
// Each Table records the owner of its file, when it has one, because
// local(8) runs file and command targets of an alias table owned by a user
// other than root with that user's rights. Close the tables with
// CloseTables.
func OpenTables(specs []string) ([]Table, error) {
	var ts []Table
	for _, spec := range specs {
		t, err := maps.Open(spec)
		if err != nil {
			CloseTables(ts)
			return nil, fmt.Errorf("alias table %s: %w", spec, err)
		}
		uid, gid := -1, -1
		if typ, name, err := maps.SplitSpec(spec); err == nil {
			path := name
			if maps.IsIndexed(typ) {
				path = maps.IndexedPath(name)
			}
			if fi, err := os.Stat(path); err == nil {
				if st, ok := fi.Sys().(*syscall.Stat_t); ok {
					uid, gid = int(st.Uid), int(st.Gid)
				}
			}
		}
		ts = append(ts, Table{Name: spec, Table: t, UID: uid, GID: gid})
	}
	return ts, nil
}

// CloseTables closes tables opened by OpenTables.
func CloseTables(ts []Table) error {
	var first error
	for _, t := range ts {
		if c, ok := t.Table.(maps.Table); ok {
			if err := c.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}
