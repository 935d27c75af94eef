package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"

	"mailhorn/internal/control"
	"mailhorn/internal/maillog"
	"mailhorn/internal/master"
	"mailhorn/internal/queue"
)

// runSuper is mailhorn super, Postfix's postsuper(1): delete (-d), hold
// (-h), release (-H) and requeue (-r) messages, check and repair the queue
// structure (-s) and purge old temporary files (-p). With the system
// running, every operation on messages goes through private/control to
// the queue manager; with it stopped, the files are changed directly while
// holding the master's pid lock, so that the system cannot start meanwhile.
func runSuper(ctx context.Context, e *env, args []string) int {
	const prog = "postsuper"
	flags := flag.NewFlagSet("super", flag.ContinueOnError)
	flags.SetOutput(e.stderr)
	confDir := flags.String("c", "", "configuration directory")
	ops := map[control.Op]*[]string{}
	for _, o := range []struct {
		flag string
		op   control.Op
		what string
	}{
		{"d", control.OpDelete, "delete the message with this queue ID (ALL: every message; -: IDs on stdin)"},
		{"h", control.OpHold, "put the message on hold"},
		{"H", control.OpRelease, "release the message from hold"},
		{"r", control.OpRequeue, "requeue the message (deliver it now)"},
	} {
		ids := new([]string)
		ops[o.op] = ids
		flags.Func(o.flag, o.what, func(v string) error { *ids = append(*ids, v); return nil })
	}
	purge := flags.Bool("p", false, "purge old temporary files")
	structure := flags.Bool("s", false, "check and repair the queue structure")
	verbose := flags.Bool("v", false, "verbose")
	flags.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: mailhorn super [-c DIR] [-d queue_id (delete)] [-h queue_id (hold)] [-H queue_id (un-hold)] [-p (purge temporary files)] [-r queue_id (requeue)] [-s (structure fix)] [-v (verbose)] [queue...]")
	}
	if err := flags.Parse(args); err != nil {
		flags.Usage()
		return exUsage
	}
	fatal := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, prog+": fatal: "+format+"\n", a...)
		return 1
	}
	warn := func(format string, a ...any) { fmt.Fprintf(e.stderr, prog+": warning: "+format+"\n", a...) }
	info := func(format string, a ...any) { fmt.Fprintf(e.stderr, prog+": "+format+"\n", a...) }
	queues := flags.Args()
	for _, q := range queues {
		switch q {
		case queue.Incoming, queue.Active, queue.Deferred, queue.Hold:
		default:
			return fatal("invalid directory name: %s", q)
		}
	}
	anyOp := false
	for _, ids := range ops {
		anyOp = anyOp || len(*ids) > 0
	}
	if !anyOp && !*purge && !*structure {
		*purge, *structure = true, true // postsuper's default
	}

	qe, err := loadQueueEnv(e, *confDir, prog)
	if err != nil {
		return fatal("%v", err)
	}
	// As postsuper: only root and mail_owner change the queue. Checked
	// first, before anything touches the queue directories.
	if euid := os.Geteuid(); euid != 0 {
		if u, err := user.Lookup(qe.cfg.Get("mail_owner")); err != nil || u.Uid != strconv.Itoa(euid) {
			return fatal("use of this command is reserved for the superuser and mail_owner")
		}
	}
	q, err := qe.openQueue()
	if err != nil {
		return fatal("%v", err)
	}
	var h control.Handler
	if !qe.running {
		// Hold the pid lock: the system cannot start while files change.
		pid, err := master.LockPID(master.PIDPath(qe.qdir))
		switch {
		case errors.Is(err, master.ErrRunning):
			qe.running = true
		case err != nil:
			return fatal("%v", err)
		default:
			defer pid.Release()
			log, closeLog := superLog(qe)
			defer closeLog()
			h = &control.QueueHandler{Queue: q, Admin: &control.FileAdmin{Queue: q, Log: log}}
		}
	}
	var client *control.Client
	if qe.running {
		client, err = control.Dial(ctx, control.PrivatePath(qe.qdir))
		if err != nil {
			if errors.Is(err, os.ErrPermission) {
				return fatal("use of this command is reserved for the superuser and mail_owner (%v)", err)
			}
			return fatal("the mail system runs, but its control socket does not answer: %v", err)
		}
		defer client.Close()
		h = client
	}

	// Structure and purge come first, as in postsuper.
	if *structure {
		uid, gid := -1, -1
		if os.Geteuid() == 0 {
			if uid, gid, err = lookupOwner(qe.cfg.Get("mail_owner")); err != nil {
				return fatal("mail_owner: %v", err)
			}
		}
		moved, err := control.Repair(ctx, q, control.RepairOptions{UID: uid, GID: gid}, func(f control.Fix) {
			if f.Kind == "warning" {
				warn("%s", f)
			} else if *verbose {
				info("%s", f)
			}
		})
		if err != nil {
			return fatal("%v", err)
		}
		// A running queue manager scans incoming/ only at start: tell it.
		for _, m := range moved {
			if client != nil {
				if _, err := client.Apply(ctx, control.Action{Op: control.OpDeliver, ID: m.ID}, nil); err != nil {
					warn("%s: %v", m.ID, err)
				}
			}
		}
	}
	if *purge {
		if _, err := h.Purge(ctx, func(p string) {
			if *verbose {
				info("removed file %s", p)
			}
		}); err != nil {
			return fatal("%v", err)
		}
	}

	counts := map[control.Op]int{}
	// ALL first, then named IDs, in postsuper's order.
	order := []control.Op{control.OpDelete, control.OpRequeue, control.OpHold, control.OpRelease}
	done := map[control.Op]string{
		control.OpDelete: "removed", control.OpRequeue: "requeued",
		control.OpHold: "placed on hold", control.OpRelease: "released from hold",
	}
	for _, op := range order {
		for _, id := range *ops[op] {
			if id != "ALL" {
				continue
			}
			if len(*ops[op]) > 1 {
				warn("option \"-%s ALL\" will ignore other command line queue IDs", opFlag(op))
			}
			n, err := h.Apply(ctx, control.Action{Op: op, All: true, Queues: queues}, func(id string) {
				if *verbose {
					info("%s: %s", id, done[op])
				}
			})
			counts[op] += n
			if err != nil {
				return fatal("%v", err)
			}
			*ops[op] = nil
			break
		}
	}
	var stdinIDs []string
	stdinRead := false
	for _, op := range order {
		for _, id := range *ops[op] {
			ids := []string{id}
			if id == "-" {
				if !stdinRead {
					stdinRead = true
					sc := bufio.NewScanner(e.stdin)
					for sc.Scan() {
						stdinIDs = append(stdinIDs, strings.TrimSpace(sc.Text()))
					}
					if err := sc.Err(); err != nil {
						return fatal("read standard input: %v", err)
					}
				}
				ids = stdinIDs
			}
			for _, id := range ids {
				if id == "" {
					continue
				}
				if !queue.ValidID(id) {
					warn("invalid mail queue id: %s", id)
					continue
				}
				n, err := h.Apply(ctx, control.Action{Op: op, ID: id, Queues: queues}, nil)
				if err != nil {
					return fatal("%v", err)
				}
				if n > 0 {
					info("%s: %s", id, done[op])
				}
				counts[op] += n
			}
		}
	}
	for _, r := range []struct {
		op   control.Op
		what string
	}{{control.OpRequeue, "Requeued"}, {control.OpDelete, "Deleted"}, {control.OpHold, "Placed on hold"}, {control.OpRelease, "Released from hold"}} {
		if n := counts[r.op]; n > 0 {
			s := "s"
			if n == 1 {
				s = ""
			}
			info("%s: %d message%s", r.what, n, s)
		}
	}
	return 0
}

func opFlag(op control.Op) string {
	switch op {
	case control.OpDelete:
		return "d"
	case control.OpHold:
		return "h"
	case control.OpRelease:
		return "H"
	}
	return "r"
}

// superLog is where a stopped system's queue changes are logged, as the
// daemon would: maillog_file when set, else syslog when there is one.
func superLog(qe *queueEnv) (*maillog.Service, func()) {
	name, host := qe.cfg.Get("syslog_name"), qe.cfg.Get("myhostname")
	if f := qe.cfg.Get("maillog_file"); f != "" {
		lf, err := os.OpenFile(f, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, func() {}
		}
		return maillog.New(lf, name, host).Service("postsuper"), func() { lf.Close() }
	}
	l, err := maillog.NewSyslog(name, host)
	if err != nil {
		return nil, func() {}
	}
	return l.Service("postsuper"), func() {}
}

// lookupOwner finds mail_owner's uid and gid.
func lookupOwner(name string) (int, int, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, err
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("%s: uid %q gid %q", name, u.Uid, u.Gid)
	}
	return uid, gid, nil
}
