package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mailhorn/internal/config"
	"mailhorn/internal/control"
	"mailhorn/internal/master"
	"mailhorn/internal/queue"
)

// sysexits(3) codes the queue tools use, as Postfix's do.
const (
	exUsage       = 64
	exUnavailable = 69
	exSoftware    = 70
)

// queueEnv is what the queue tools share: the configuration, the queue
// directory, and whether a master runs on it.
type queueEnv struct {
	cfg     *config.Config
	qdir    string
	running bool
}

func loadQueueEnv(e *env, confDir, prog string) (*queueEnv, error) {
	cfg, err := config.Load(config.Dir(confDir, e.getenv), func(w string) {
		fmt.Fprintf(e.stderr, "%s: warning: %s\n", prog, w)
	})
	if err != nil {
		return nil, err
	}
	qe := &queueEnv{cfg: cfg, qdir: cfg.Get("queue_directory")}
	pid, err := master.Running(master.PIDPath(qe.qdir))
	if err != nil && !errors.Is(err, fs.ErrPermission) {
		return nil, fmt.Errorf("pid file: %w", err)
	}
	qe.running = pid > 0
	return qe, nil
}

// openQueue opens an existing queue for the tools: unlike queue.Open on
// its own, it never creates a queue where there was none.
func (qe *queueEnv) openQueue() (*queue.Queue, error) {
	if _, err := os.Stat(filepath.Join(qe.qdir, queue.Incoming)); err != nil {
		return nil, fmt.Errorf("queue_directory %s: %w", qe.qdir, err)
	}
	return queue.Open(qe.qdir, nil)
}

func (qe *queueEnv) emptyAddress() string {
	if a := qe.cfg.Get("empty_address_recipient"); a != "" {
		return a
	}
	return "MAILER-DAEMON"
}

// runMailq is the multi-call name mailq: postqueue -p (sendmail -bp).
func runMailq(ctx context.Context, e *env, args []string) int {
	return runQueue(ctx, e, append([]string{"-p"}, args...))
}

// runQueue is mailhorn queue, Postfix's postqueue(1): list the queue (-p,
// -j) and ask for deliveries (-f, -i ID, -s site). It talks to the running
// system through public/showq; with the system stopped it lists the queue
// directly when the user may read it, and refuses to flush.
func runQueue(ctx context.Context, e *env, args []string) int {
	const prog = "postqueue"
	flags := flag.NewFlagSet("queue", flag.ContinueOnError)
	flags.SetOutput(e.stderr)
	confDir := flags.String("c", "", "configuration directory")
	var mode, arg string
	setMode := func(m string) func(string) error {
		return func(v string) error {
			if mode != "" && mode != m {
				return errors.New("specify only one of -f, -i, -j, -p, -s")
			}
			mode, arg = m, v
			return nil
		}
	}
	flags.BoolFunc("p", "list the queue (mailq)", setMode("p"))
	flags.BoolFunc("j", "list the queue as JSON lines", setMode("j"))
	flags.BoolFunc("f", "flush: try to deliver all deferred mail now", setMode("f"))
	flags.Func("i", "deliver the message with this queue ID now", setMode("i"))
	flags.Func("s", "deliver mail for this site now", setMode("s"))
	flags.Bool("v", false, "verbose (ignored)")
	flags.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: mailhorn queue [-c DIR] -f | -i queue_id | -j | -p | -s site\n")
	}
	if err := flags.Parse(args); err != nil || mode == "" || flags.NArg() > 0 {
		flags.Usage()
		return exUsage
	}
	fatal := func(code int, format string, a ...any) int {
		fmt.Fprintf(e.stderr, prog+": fatal: "+format+"\n", a...)
		return code
	}
	switch {
	case mode == "i" && !queue.ValidID(arg):
		return fatal(exUsage, "Cannot flush queue ID - invalid name: %q", arg)
	case mode == "s" && !validSite(arg):
		return fatal(exUsage, "Cannot flush mail queue - invalid destination: %q", arg)
	}
	qe, err := loadQueueEnv(e, *confDir, prog)
	if err != nil {
		return fatal(1, "%v", err)
	}

	client, dialErr := control.Dial(ctx, control.PublicPath(qe.qdir))
	var h control.Handler
	if dialErr == nil {
		defer client.Close()
		h = client
	}
	switch mode {
	case "f", "i", "s":
		if h == nil {
			return fatal(exUnavailable, "Cannot flush mail queue - mail system is down (%v)", dialErr)
		}
		if mode == "i" {
			n, err := h.Apply(ctx, control.Action{Op: control.OpDeliver, ID: arg}, nil)
			if err != nil {
				return fatal(exUnavailable, "%v", err)
			}
			if n == 0 {
				fmt.Fprintf(e.stderr, "%s: warning: %s: no such message in the incoming or deferred queue\n", prog, arg)
			}
			return 0
		}
		if err := h.Flush(ctx, arg); err != nil {
			return fatal(exUnavailable, "%v", err)
		}
		return 0
	}

	if h == nil {
		q, err := qe.openQueue()
		if err != nil {
			return fatal(exUnavailable, "Queue report unavailable - mail system is down (%v)", dialErr)
		}
		if qe.running {
			fmt.Fprintf(e.stderr, "%s: warning: Mail system is running but %v -- accessing queue directly\n", prog, dialErr)
		} else {
			fmt.Fprintf(e.stderr, "%s: warning: Mail system is down -- accessing queue directly\n", prog)
		}
		h = &control.QueueHandler{Queue: q, Admin: &control.FileAdmin{Queue: q}, EmptyAddress: qe.emptyAddress()}
	}
	var lw interface {
		add(control.Message) error
		end() error
	}
	if mode == "j" {
		lw = &jsonLister{w: e.stdout}
	} else {
		lw = &mailqLister{w: e.stdout}
	}
	err = h.List(ctx, lw.add)
	if err == nil {
		err = lw.end()
	}
	if errors.Is(err, fs.ErrPermission) {
		return fatal(exUnavailable, "Queue report unavailable - mail system is down (%v)", err)
	}
	if err != nil {
		return fatal(exSoftware, "%v", err)
	}
	return 0
}

// validSite accepts what postqueue -s does: a domain name or an address
// literal in [].
func validSite(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	if strings.HasPrefix(s, "[") {
		return strings.HasSuffix(s, "]") && len(s) > 2
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c >= 0x80) {
			return false
		}
	}
	return true
}

// jsonLister prints postqueue -j: one JSON object per line.
type jsonLister struct{ w io.Writer }

func (l *jsonLister) add(m control.Message) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return err
	}
	_, err := l.w.Write(b.Bytes())
	return err
}

func (l *jsonLister) end() error { return nil }

// mailqLister prints postqueue -p in Postfix's layout for long queue IDs
// (enable_long_queue_ids = yes), since mailhorn's IDs have 16 characters:
// a heading, one block per message, a blank line between blocks, and the
// total.
type mailqLister struct {
	w     io.Writer
	count int
	size  int64
}

const (
	mailqStrFmt    = "%-17s %8s %-19s %s\n"
	mailqSenderFmt = "%-17s %8d %19.19s %s\n"
)

// asctime is C's asctime(3) without its newline.
func asctime(t time.Time) string { return t.Format("Mon Jan _2 15:04:05 2006") }

func (l *mailqLister) add(m control.Message) error {
	var b strings.Builder
	if l.count == 0 {
		fmt.Fprintf(&b, mailqStrFmt, "----Queue ID-----", "--Size--", "---Arrival Time----", "--Sender/Recipient------")
	} else {
		b.WriteString("\n")
	}
	l.count++
	l.size += m.MessageSize
	id := m.QueueID
	switch {
	case m.QueueName == queue.Active:
		id += "*"
	case m.QueueName == queue.Hold:
		id += "!"
	}
	if m.ForcedExpire {
		id += "#"
	}
	sender := m.Sender
	if m.QueueName == queue.Maildrop && m.SenderUID != nil {
		sender = fmt.Sprintf("(maildrop queue, sender UID %d)", *m.SenderUID)
	}
	fmt.Fprintf(&b, mailqSenderFmt, id, m.MessageSize, asctime(time.Unix(m.ArrivalTime, 0)), sender)
	// A reason is printed when it differs from the previous recipient's;
	// "reason unavailable" when a recipient has none after one that had.
	prev := ""
	for _, r := range m.Recipients {
		if r.DelayReason != prev {
			prev = r.DelayReason
			show := prev
			if show == "" {
				show = "reason unavailable"
			}
			fmt.Fprintf(&b, "%*s(%s)\n", max(76-len(show), 0), "", show)
		}
		fmt.Fprintf(&b, mailqStrFmt, "", "", "", r.Address)
	}
	_, err := io.WriteString(l.w, b.String())
	return err
}

func (l *mailqLister) end() error {
	var err error
	if l.count == 0 {
		_, err = io.WriteString(l.w, "Mail queue is empty\n")
	} else {
		s := "s"
		if l.count == 1 {
			s = ""
		}
		_, err = fmt.Fprintf(l.w, "\n-- %d Kbytes in %d Request%s.\n", l.size/1024, l.count, s)
	}
	return err
}
