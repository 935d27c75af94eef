package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"mailhorn/internal/cleanup"
	"mailhorn/internal/deliver"
	"mailhorn/internal/privsep"
	"mailhorn/internal/queue"
)

// attrs gives the delivery attributes of forward_path and luser_relay for
// user u (name, extension ext) reached through recipient rc.
func (a *Agent) attrs(rc *rcpt, u User, ext string) attrs {
	at := attrs{
		"user":      u.Name,
		"home":      u.Home,
		"shell":     u.Shell,
		"domain":    rc.domain,
		"local":     rc.local,
		"mailbox":   rc.local,
		"recipient": rc.r.Address,
	}
	if strings.Contains(ext, "/") {
		// As local(8): an extension with a '/' could walk out of the home
		// directory in forward_path; it is dropped.
		a.warn("%s: address with illegal extension: %s", rc.req.QueueID, rc.local)
		ext = ""
	}
	if ext != "" {
		at["extension"] = ext
		delim := ""
		if a.Expander != nil && a.Expander.Delimiters != "" {
			delim = a.Expander.Delimiters[:1]
		}
		if n := len(u.Name); len(rc.local) > n && strings.HasPrefix(rc.local, u.Name) {
			delim = rc.local[n : n+1]
		}
		if delim != "" {
			at["recipient_delimiter"] = delim
		}
	}
	return at
}

// readForward finds the user's .forward file: the first forward_path entry
// that expands without undefined attributes and exists. It is used only if
// it is a regular file owned by the user (or root) and not world-writable,
// as local(8) requires; otherwise it is ignored with a warning and the
// mailbox gets the mail.
//
// Without privilege separation we open it with our own rights, so the
// checks are made on the open file itself (no symbolic link as the last
// component, same file as the one checked, a root-owned file only when it
// has one link) to keep a user from making us read a file she may not.
func (a *Agent) readForward(ctx context.Context, rc *rcpt, u User, ext string) (data []byte, path string, found bool, err error) {
	at := a.attrs(rc, u, ext)
	for _, pattern := range a.ForwardPath {
		e, err := at.expand(pattern, a.ForwardFilter)
		if err != nil {
			a.warn("forward_path %q: %v", pattern, err)
			continue
		}
		if e.undefined || e.text == "" {
			continue
		}
		path := e.text
		data, absent, err := privsep.ReadForwardFile(path, u.UID, privsep.MaxReadSize)
		if errors.Is(err, fs.ErrPermission) && a.Runner != nil && u.UID != os.Geteuid() {
			// Her home is closed to the mail system: read it as her, as
			// local(8) does.
			res, rerr := a.Runner.Run(ctx, &privsep.Request{
				Op: privsep.OpRead, Source: privsep.SourceForward, Path: path,
				As:        privsep.Identity{User: u.Name, UID: u.UID, GID: u.GID, Home: u.Home, Shell: u.Shell},
				QueueID:   rc.req.QueueID,
				Recipient: rc.r.Address,
			})
			switch {
			case rerr != nil:
				err = rerr
			case res.Status == deliver.Bounced:
				err = fmt.Errorf("%w: %s", privsep.ErrUnsafeForward, res.Text)
			case res.Status != deliver.Sent:
				err = errors.New(res.Text)
			default:
				data, absent, err = res.Data, res.Absent, nil
			}
		}
		switch {
		case errors.Is(err, privsep.ErrUnsafeForward):
			// Ignored with a warning, as Postfix does.
			a.warn("%v", err)
			return nil, "", false, nil
		case err != nil:
			// Unreadable is not absent: delivering to the mailbox would
			// ignore her forwarding. Try again later.
			return nil, path, false, err
		case absent:
			continue
		}
		return data, path, true, nil
	}
	return nil, "", false, nil
}

// submitForward queues one new message to the addresses of g: the same
// content with a Received: and a Delivered-To: header first (the original
// recipient, lower-cased, which breaks forwarding loops), as local(8)'s
// forward_send. The original message is then "sent": relayed to the queue.
func (a *Agent) submitForward(ctx context.Context, rc *rcpt, g forwardGroup) deliver.Result {
	if a.Submitter == nil {
		return deliver.Resultf(deliver.Deferred, "4.3.5", "mail system configuration error: no queue to forward mail to %s", strings.Join(g.rcpts, ", "))
	}
	req := rc.req
	m := &cleanup.Message{Sender: g.sender, Received: a.received()}
	// DSN: NOTIFY is passed on without SUCCESS (this delivery reports the
	// success); ENVID and RET only when the sender stays the same, as an
	// owner- alias makes the message a new one (RFC 3461 §6.2.7).
	notify := rc.r.Notify
	if notify == queue.NotifySuccess {
		notify = queue.NotifyNever
	} else {
		notify &^= queue.NotifySuccess
	}
	if g.sender == req.Sender {
		if req.EnvID != "" {
			m.Attrs = append(m.Attrs, queue.Attr{Name: queue.AttrEnvID, Value: req.EnvID})
		}
		if req.Ret != "" {
			m.Attrs = append(m.Attrs, queue.Attr{Name: queue.AttrRet, Value: req.Ret})
		}
	}
	if req.SMTPUTF8 {
		m.Attrs = append(m.Attrs, queue.Attr{Name: queue.AttrSMTPUTF8, Value: "yes"})
	}
	if req.Body != "" {
		m.Attrs = append(m.Attrs, queue.Attr{Name: queue.AttrBody, Value: req.Body})
	}
	for _, r := range g.rcpts {
		m.Recipients = append(m.Recipients, cleanup.Recipient{Address: r, Notify: notify})
	}
	qf, body, err := req.OpenContent()
	if err != nil {
		return deliver.Resultf(deliver.Deferred, "4.3.0", "cannot read the queue file: %v", err)
	}
	defer qf.Close()
	content := io.MultiReader(strings.NewReader("Delivered-To: "+strings.ToLower(rc.r.Address)+"\n"), body)
	id, err := a.Submitter.Submit(ctx, m, content)
	if err != nil {
		var ce *cleanup.Error
		if errors.As(err, &ce) && !ce.Temporary() {
			return deliver.Resultf(deliver.Bounced, ce.DSN, "cannot forward: %s", ce.Text)
		}
		return deliver.Resultf(deliver.Deferred, "4.3.0", "cannot forward: %v", err)
	}
	return deliver.Resultf(deliver.Sent, "2.0.0", "forwarded as %s", id)
}

// received is the Received: header of forwarded mail. Postfix names the
// new queue ID in it; cleanup assigns ours only once it has the content,
// so the header has none.
func (a *Agent) received() string {
	name := a.MailName
	if name == "" {
		name = "mailhorn"
	}
	host := a.Hostname
	if host == "" {
		host = "localhost"
	}
	return "Received: by " + host + " (" + name + ");\n\t" + a.now().Format("Mon, _2 Jan 2006 15:04:05 -0700 (MST)")
}
