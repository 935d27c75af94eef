package privsep

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

func (o Lock) attempts() int {
	if o.Attempts > 0 {
		return o.Attempts
	}
	return 20
}

func (o Lock) delay() time.Duration {
	if o.Delay > 0 {
		return o.Delay
	}
	return time.Second
}

func (o Lock) stale() time.Duration {
	if o.Stale > 0 {
		return o.Stale
	}
	return 500 * time.Second
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// dotlock creates path.lock exclusively, as Postfix's dot_lockfile does:
// retry while it exists, remove it when its change time is older than the
// stale time. It returns the lock's path for unlocking.
func dotlock(ctx context.Context, path string, o Lock, now func() time.Time) (string, error) {
	lock := path + ".lock"
	var err error
	for n := 1; ; n++ {
		var f *os.File
		f, err = os.OpenFile(lock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0)
		if err == nil {
			f.Close()
			return lock, nil
		}
		if n >= o.attempts() || !errors.Is(err, os.ErrExist) {
			break
		}
		if fi, serr := os.Stat(lock); serr == nil && now().After(changeTime(fi).Add(o.stale())) {
			if rerr := os.Remove(lock); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				err = rerr
				break
			}
			continue
		}
		if serr := sleep(ctx, o.delay()); serr != nil {
			return "", fmt.Errorf("unable to create lock file %s: %w", lock, serr)
		}
	}
	return "", fmt.Errorf("unable to create lock file %s: %w", lock, err)
}

// fcntlLock takes an exclusive record lock on the whole file, trying
// without blocking and waiting between attempts (Postfix's deliver_flock),
// so that a mail reader holding the lock delays delivery instead of
// blocking it forever, and so that ctx cancels the wait.
func fcntlLock(ctx context.Context, f *os.File, o Lock) error {
	var err error
	for n := 1; ; n++ {
		if err = tryLock(f); err == nil {
			return nil
		}
		if n >= o.attempts() || !(errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES)) {
			break
		}
		if serr := sleep(ctx, o.delay()); serr != nil {
			return fmt.Errorf("unable to lock for exclusive access: %w", serr)
		}
	}
	return fmt.Errorf("unable to lock for exclusive access: %w", err)
}
