package master

import (
	"context"
	"fmt"
	"io"
	"os"
	"syscall"

	"mailhorn/internal/queue"
	"mailhorn/internal/store"
)

// Check validates what Run would use, without running anything: main.cf
// and master.cf, every table they name (opened once), the services, and the
// queue directory's ownership and permissions. Problems are returned; an
// empty slice means start would get past its configuration.
func Check(ctx context.Context, dir string, warn io.Writer) []error {
	cfg, services, err := load(dir, warn)
	if err != nil {
		return []error{err}
	}
	var errs []error
	qdir := cfg.Get("queue_directory")
	st, err := os.Stat(qdir)
	switch {
	case os.IsNotExist(err):
		// Run creates it.
	case err != nil:
		errs = append(errs, fmt.Errorf("queue_directory: %w", err))
	case !st.IsDir():
		errs = append(errs, fmt.Errorf("queue_directory %s: not a directory", qdir))
	case st.Mode().Perm()&0o002 != 0:
		errs = append(errs, fmt.Errorf("queue_directory %s: world-writable", qdir))
	default:
		if os.Geteuid() == 0 {
			uid, _, err := mailOwner(cfg.Get("mail_owner"))
			if err != nil {
				errs = append(errs, err)
			} else if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != uid && int(sys.Uid) != 0 {
				errs = append(errs, fmt.Errorf("queue_directory %s: owned by uid %d, neither root nor mail_owner", qdir, sys.Uid))
			}
		} else if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Geteuid() {
			errs = append(errs, fmt.Errorf("queue_directory %s: owned by uid %d, not by the user running mailhorn (%d)", qdir, sys.Uid, os.Geteuid()))
		}
	}
	if os.Geteuid() == 0 {
		if _, _, err := mailOwner(cfg.Get("mail_owner")); err != nil {
			errs = append(errs, err)
		}
	}
	// Build a generation: it opens every table and checks every service's
	// settings, exactly as start and reload do.
	sh := &shared{queue: &queue.Queue{}, notify: notifyFunc(func(string) {}), maildirs: store.NewWriter("check")}
	sh.mailLog, sh.log = discardLogs()
	g, err := buildGeneration(ctx, cfg, services, sh)
	if err != nil {
		errs = append(errs, err)
	} else {
		g.close()
	}
	return errs
}
