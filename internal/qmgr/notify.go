package qmgr

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"mailhorn/internal/cleanup"
	"mailhorn/internal/dsn"
	"mailhorn/internal/queue"
)

// wants tells whether a recipient's DSN NOTIFY asks for a kind of notice
// (RFC 3461 §4.1). Without NOTIFY, failures and delays are reported, as
// Postfix does.
func wants(notify, bit byte) bool {
	if notify&queue.NotifyNever != 0 {
		return false
	}
	if notify == 0 {
		return bit == queue.NotifyFailure || bit == queue.NotifyDelay
	}
	return notify&bit != 0
}

func (m *Manager) isDoubleBounceSender(s string) bool {
	return s != "" && strings.EqualFold(s, m.s.DoubleBounceSender)
}

// notifyFailure returns the bounced recipients to the sender. Mail from the
// null sender is never answered: its failure goes to the postmaster
// (2bounce_notice_recipient) from the double-bounce sender, and a failure of
// that is dropped.
func (m *Manager) notifyFailure(msg *message, outs []outcome) error {
	f := msg.f
	switch {
	case m.isDoubleBounceSender(f.Sender):
		m.logf("%s: undeliverable postmaster notification discarded", msg.id)
		return nil
	case f.Sender == "":
		id, err := m.sendReport(msg, dsn.PostmasterCopy, outs, m.s.DoubleBounceSender, m.s.DoubleBounceRecipient, time.Time{})
		if err == nil {
			m.logf("%s: postmaster non-delivery notification: %s", msg.id, id)
		}
		return err
	}
	return m.notifySender(msg, dsn.Failure, queue.NotifyFailure, outs, time.Time{}, "non-delivery")
}

// notifyDelay warns the sender that some recipients are still deferred.
func (m *Manager) notifyDelay(msg *message, outs []outcome, now time.Time) error {
	if f := msg.f; f.Sender == "" || m.isDoubleBounceSender(f.Sender) {
		return nil
	}
	return m.notifySender(msg, dsn.Delay, queue.NotifyDelay, outs, now, "delay")
}

// notifySuccess tells the sender of deliveries it asked to hear about
// (NOTIFY=SUCCESS).
func (m *Manager) notifySuccess(msg *message, outs []outcome) error {
	if f := msg.f; f.Sender == "" || m.isDoubleBounceSender(f.Sender) {
		return nil
	}
	return m.notifySender(msg, dsn.Success, queue.NotifySuccess, outs, time.Time{}, "delivery")
}

// notifySender sends the sender a report of kind on those recipients of
// outs whose NOTIFY asks for bit; what names the notice in the mail log.
func (m *Manager) notifySender(msg *message, kind dsn.Kind, bit byte, outs []outcome, now time.Time, what string) error {
	f := msg.f
	var want []outcome
	for _, o := range outs {
		if wants(f.Recipients[o.idx].Notify, bit) {
			want = append(want, o)
		}
	}
	if len(want) == 0 {
		return nil
	}
	id, err := m.sendReport(msg, kind, want, "", f.Sender, now)
	if err == nil && m.log != nil {
		m.log.Notification(msg.id, what, id)
	}
	return err
}

// sendReport renders a report on outs and queues it from envSender to to.
// It returns once the report is durably queued.
func (m *Manager) sendReport(msg *message, kind dsn.Kind, outs []outcome, envSender, to string, now time.Time) (string, error) {
	f := msg.f
	if m.submit == nil {
		return "", fmt.Errorf("no submission service")
	}
	if now.IsZero() {
		now = m.now()
	}
	life := m.s.MaxLifetime
	if f.Sender == "" {
		life = m.s.BounceLifetime
	}
	r := &dsn.Report{
		Kind:        kind,
		Hostname:    m.s.Hostname,
		QueueID:     msg.id,
		Arrival:     f.Arrival,
		Sender:      f.Sender,
		To:          to,
		EnvID:       f.Attr(queue.AttrEnvID),
		Date:        now,
		RetryUntil:  f.Arrival.Add(life),
		DelayedFor:  m.s.DelayWarning,
		HeadersOnly: strings.EqualFold(f.Attr(queue.AttrRet), "HDRS"),
		SizeLimit:   m.s.BounceSizeLimit,
	}
	for _, o := range outs {
		rc := f.Recipients[o.idx]
		e := dsn.Recipient{
			Address:     rc.Address,
			Original:    rc.Original,
			ORCPT:       rc.ORCPT,
			Status:      o.res.DSN,
			Text:        o.res.Text,
			Diagnostic:  o.res.Remote,
			LastAttempt: o.at,
		}
		if o.res.Remote != "" {
			e.RemoteMTA = remoteHost(o.res.Relay)
		}
		r.Recipients = append(r.Recipients, e)
	}

	qf, err := os.Open(m.q.Path(msg.queue, msg.id))
	if err != nil {
		return "", err
	}
	defer qf.Close()
	var buf bytes.Buffer
	if err := r.Write(&buf, io.NewSectionReader(qf, f.ContentOffset, f.ContentSize), f.ContentSize); err != nil {
		return "", err
	}
	cm := &cleanup.Message{
		Sender:     envSender,
		Recipients: []cleanup.Recipient{{Address: to}},
		Attrs:      []queue.Attr{{Name: queue.AttrProtocol, Value: "bounce"}},
		Local:      true,
	}
	return m.submit.Submit(m.agentCtx, cm, &buf)
}

// remoteHost takes the host name out of a relay= value such as
// "mx.example[192.0.2.1]:25".
func remoteHost(relay string) string {
	if i := strings.IndexByte(relay, '['); i > 0 {
		return relay[:i]
	}
	return relay
}
