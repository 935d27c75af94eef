package pickup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"mailhorn/internal/cleanup"
	"mailhorn/internal/maildrop"
	"mailhorn/internal/maillog"
	"mailhorn/internal/queue"
)

// Users finds the login name of a uid: the sender of a maildrop file that
// names none. found is false for a uid without an account; err is a
// failure of the lookup itself (the file is then tried again later).
type Users interface {
	LookupID(ctx context.Context, uid int) (name string, found bool, err error)
}

// Options configure the pickup service.
type Options struct {
	Dir      string // queue_directory
	Submit   func(ctx context.Context, m *cleanup.Message, content io.Reader) (string, error)
	Log      *maillog.Service // "mailhorn/pickup"
	Users    Users
	Hostname string // myhostname, for the Received header
	MailName string // mail_name ("mailhorn")
	// Interval is the time between scans when nothing wakes the service;
	// 0 means 5 seconds.
	Interval time.Duration
}

// PublicDir and FIFOName locate the wake-up FIFO under queue_directory.
const (
	PublicDir = "public"
	FIFOName  = "pickup"
)

// tempMaxAge is how old a file still being written may get before it is
// taken for a leftover of a writer that died, and removed.
const tempMaxAge = 24 * time.Hour

// Service is the pickup service.
type Service struct {
	o    Options
	wake chan struct{}
}

// New checks the options and returns the service.
func New(o Options) (*Service, error) {
	if o.Dir == "" || o.Submit == nil || o.Users == nil {
		return nil, errors.New("pickup: Dir, Submit and Users are required")
	}
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
	}
	if o.MailName == "" {
		o.MailName = "mailhorn"
	}
	if o.Hostname == "" {
		o.Hostname = "localhost"
	}
	return &Service{o: o, wake: make(chan struct{}, 1)}, nil
}

// Run is New(o) and its Run.
func Run(ctx context.Context, o Options) error {
	s, err := New(o)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// Wake asks for a scan of the maildrop directory soon. It never blocks.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Prepare gives the maildrop directory and the wake-up FIFO the
// permissions local users need to submit mail: maildrop/ 1733,
// public/ 0711, public/pickup a FIFO with mode 0622. It runs as the owner
// of the queue directory (mail_owner, or root before privileges are
// dropped).
func Prepare(queueDir string) error {
	md := filepath.Join(queueDir, queue.Maildrop)
	if err := os.MkdirAll(md, 0o700); err != nil {
		return fmt.Errorf("pickup: %w", err)
	}
	if err := os.Chmod(md, 0o733|os.ModeSticky); err != nil {
		return fmt.Errorf("pickup: %w", err)
	}
	pub := filepath.Join(queueDir, PublicDir)
	if err := os.MkdirAll(pub, 0o711); err != nil {
		return fmt.Errorf("pickup: %w", err)
	}
	if err := os.Chmod(pub, 0o711); err != nil {
		return fmt.Errorf("pickup: %w", err)
	}
	fifo := filepath.Join(pub, FIFOName)
	if st, err := os.Lstat(fifo); err == nil && st.Mode()&fs.ModeNamedPipe == 0 {
		if err := os.Remove(fifo); err != nil {
			return fmt.Errorf("pickup: %w", err)
		}
	}
	if err := syscall.Mkfifo(fifo, 0o622); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("pickup: mkfifo %s: %w", fifo, err)
	}
	if err := os.Chmod(fifo, 0o622); err != nil {
		return fmt.Errorf("pickup: %w", err)
	}
	return nil
}

// Poke wakes a running pickup service through its FIFO, without ever
// blocking: when no service runs, the file waits in maildrop/ and the
// error says why nobody was woken.
func Poke(queueDir string) error {
	fifo := filepath.Join(queueDir, PublicDir, FIFOName)
	st, err := os.Lstat(fifo)
	if err != nil {
		return err
	}
	if st.Mode()&fs.ModeNamedPipe == 0 {
		return fmt.Errorf("%s is not a FIFO", fifo)
	}
	f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err // ENXIO: nobody reads it
	}
	defer f.Close()
	_, err = f.Write([]byte{'W'})
	return err
}

// Run scans the maildrop directory until ctx is done: at start, when
// woken, and every Interval. It returns nil when ctx ends.
func (s *Service) Run(ctx context.Context) error {
	fifo, err := os.OpenFile(filepath.Join(s.o.Dir, PublicDir, FIFOName), os.O_RDWR|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		s.warn("wake-up FIFO: %v (scanning every %v only)", err, s.o.Interval)
	} else {
		stop := context.AfterFunc(ctx, func() { fifo.Close() })
		defer stop()
		go s.readFIFO(fifo)
	}
	t := time.NewTicker(s.o.Interval)
	defer t.Stop()
	for {
		if err := s.Scan(ctx); err != nil && ctx.Err() == nil {
			s.warn("%v", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-t.C:
		}
	}
}

// readFIFO turns every write into the FIFO into a Wake, until the FIFO is
// closed.
func (s *Service) readFIFO(f *os.File) {
	var b [64]byte
	for {
		if _, err := f.Read(b[:]); err != nil {
			return
		}
		s.Wake()
	}
}

// Scan picks up the files in maildrop/, again as long as it finds any, and
// returns the first error that stopped it (a failing cleanup: the files
// stay for the next scan).
func (s *Service) Scan(ctx context.Context) error {
	for {
		n, err := s.scanOnce(ctx)
		if err != nil || n == 0 {
			return err
		}
	}
}

func (s *Service) scanOnce(ctx context.Context) (int, error) {
	dir := filepath.Join(s.o.Dir, queue.Maildrop)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("scan %s: %w", dir, err)
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	done := 0
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		name := e.Name()
		switch {
		case maildrop.IsTemp(name):
			s.removeStale(dir, name)
		case maildrop.ValidName(name):
			ok, err := s.pickup(ctx, dir, name)
			if err != nil {
				return done, err
			}
			if ok {
				done++
			}
		}
	}
	return done, nil
}

// removeStale removes a temporary file left by a writer that died.
func (s *Service) removeStale(dir, name string) {
	st, err := os.Lstat(filepath.Join(dir, name))
	if err != nil || time.Since(st.ModTime()) < tempMaxAge {
		return
	}
	if err := os.Remove(filepath.Join(dir, name)); err == nil {
		s.warn("removed stale temporary file %s/%s", queue.Maildrop, name)
	}
}

// pickup moves one maildrop file into the queue. ok tells whether the file
// is gone from maildrop/ (queued, or moved to corrupt/); err stops the scan.
func (s *Service) pickup(ctx context.Context, dir, name string) (ok bool, err error) {
	path := filepath.Join(dir, name)
	shown := queue.Maildrop + "/" + name
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil // taken meanwhile
	case errors.Is(err, syscall.ELOOP):
		return s.corrupt(dir, name, -1, errors.New("symbolic link")), nil
	case err != nil:
		s.warn("open %s: %v", shown, err)
		return false, nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		s.warn("stat %s: %v", shown, err)
		return false, nil
	}
	sys, _ := st.Sys().(*syscall.Stat_t)
	if sys == nil {
		return false, fmt.Errorf("stat %s: no owner information", shown)
	}
	uid := int(sys.Uid)
	if !st.Mode().IsRegular() || sys.Nlink != 1 {
		return s.corrupt(dir, name, uid, fmt.Errorf("not a regular file with one link (mode %v, %d links)", st.Mode(), sys.Nlink)), nil
	}
	mf, err := maildrop.Decode(f, st.Size())
	if err != nil {
		return s.corrupt(dir, name, uid, err), nil
	}
	login, found, err := s.o.Users.LookupID(ctx, uid)
	if err != nil {
		return false, fmt.Errorf("%s: uid=%d: %w", shown, uid, err)
	}
	if !found {
		return s.corrupt(dir, name, uid, errors.New("the owner has no account")), nil
	}
	sender := login
	if mf.SenderGiven {
		sender = mf.Sender
	}
	m := s.message(mf, sender, uid, st.ModTime())
	id, err := s.o.Submit(ctx, m, io.NewSectionReader(f, mf.ContentOffset, mf.ContentSize))
	var ce *cleanup.Error
	switch {
	case errors.As(err, &ce) && !ce.Temporary():
		return s.corrupt(dir, name, uid, fmt.Errorf("from=<%s>: rejected: %s %s %s", sender, fmt.Sprint(ce.Code), ce.DSN, ce.Text)), nil
	case err != nil:
		return false, fmt.Errorf("%s: uid=%d from=<%s>: %w (the file stays in maildrop)", shown, uid, sender, err)
	}
	if err := os.Remove(path); err != nil {
		s.warn("%s: remove %s: %v (the message may be queued twice)", id, shown, err)
	}
	return true, nil
}

// message builds the cleanup envelope of a maildrop file.
func (s *Service) message(mf *maildrop.File, sender string, uid int, mtime time.Time) *cleanup.Message {
	m := &cleanup.Message{
		Sender:     sender,
		Recipients: mf.Recipients,
		Local:      !mf.Remote,
		FullName:   mf.FullName,
		Attrs:      []queue.Attr{{Name: queue.AttrProtocol, Value: "local"}},
		ReceivedFor: func(id string) string {
			return fmt.Sprintf("Received: by %s (%s, from userid %d)\n\tid %s; %s",
				s.o.Hostname, s.o.MailName, uid, id, mtime.Format("Mon, _2 Jan 2006 15:04:05 -0700 (MST)"))
		},
		OnQueueID: func(id string) {
			if s.o.Log != nil {
				s.o.Log.Printf("%s: uid=%d from=<%s>", id, uid, sender)
			}
		},
	}
	attr := func(name, value string) {
		if value != "" {
			m.Attrs = append(m.Attrs, queue.Attr{Name: name, Value: value})
		}
	}
	attr(queue.AttrEnvID, mf.EnvID)
	attr(queue.AttrRet, mf.Ret)
	attr(queue.AttrBody, mf.Body)
	if mf.SMTPUTF8 {
		attr(queue.AttrSMTPUTF8, "yes")
	}
	return m
}

// corrupt moves a file that cannot be queued to corrupt/, with a warning,
// and tells whether it is gone from maildrop/.
func (s *Service) corrupt(dir, name string, uid int, why error) bool {
	to := filepath.Join(s.o.Dir, queue.Corrupt, name)
	if err := os.Rename(filepath.Join(dir, name), to); err != nil {
		s.warn("%s/%s: uid=%d: %v; cannot move it to %s: %v", queue.Maildrop, name, uid, why, queue.Corrupt, err)
		return false
	}
	s.warn("%s/%s: uid=%d: %v: moved to %s/", queue.Maildrop, name, uid, why, queue.Corrupt)
	return true
}

func (s *Service) warn(format string, args ...any) {
	if s.o.Log != nil {
		s.o.Log.Warning(format, args...)
	}
}
