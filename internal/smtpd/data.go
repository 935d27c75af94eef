package smtpd

import (
	"errors"
	"io"
	"runtime/debug"
	"strconv"

	"mailhorn/internal/cleanup"
	"mailhorn/internal/queue"
)

var (
	errTooBig  = errors.New("message size exceeds message_size_limit")
	errAborted = errors.New("mail transaction aborted")
)

// checkContent runs the checks common to DATA and the first BDAT.
func (s *session) checkContent() error {
	if s.txn == nil {
		// Postfix's wording, even without MAIL.
		return s.fail(503, "5.5.1", "Error: need RCPT command")
	}
	if len(s.txn.rcpts) == 0 {
		return s.fail(554, "5.5.1", "Error: no valid recipients")
	}
	if r := s.srv.Policy.CheckData(s.ctx, &s.info); r != nil {
		return s.reject(s.where, r, "")
	}
	return nil
}

// cmdData receives content (RFC 5321 §4.1.1.4) and streams it into the
// queue while it arrives.
func (s *session) cmdData(arg string) error {
	if arg != "" {
		return s.fail(501, "5.5.4", "Syntax: DATA")
	}
	if s.txn != nil && s.txn.bdat != nil {
		return s.fail(503, "5.5.1", "Error: DATA after BDAT")
	}
	if err := s.checkContent(); err != nil {
		return err
	}
	if s.txn.body == "BINARYMIME" {
		// RFC 3030 §3: BINARYMIME content can only come in BDAT chunks.
		return s.fail(503, "5.5.1", "Error: BINARYMIME requires BDAT")
	}
	s.reply(354, "", "End data with <CR><LF>.<CR><LF>")
	mode := s.opt.BareNewline
	if mode == BareNewlineReject && s.opt.BareNewlineExempt != nil && s.opt.BareNewlineExempt(s.info.Addr) {
		mode = BareNewlineNormalize
	}
	dr := NewDataReader(s.r, mode)
	lr := &limitReader{r: dr, limit: s.opt.MessageSizeLimit, size: dr.Size}
	msg := s.message()
	res := s.submit(msg, lr)
	if !dr.Done() && !lr.failed() {
		// The submitter stopped early (a rejection), or the message is too
		// big: read to the end of the data before answering.
		if _, err := io.Copy(io.Discard, dr); err != nil {
			lr.err = err
		}
	}
	if rerr := lr.readErr(); rerr != nil {
		if errors.Is(rerr, ErrBareLF) {
			s.bareLFReject()
			return errHangup
		}
		s.lostBytes = dr.Raw()
		return rerr
	}
	s.where = "END-OF-MESSAGE"
	return s.finish(msg, res, lr.tooBig, "")
}

// submit hands a message to the submitter: per recipient for LMTP when
// the submitter can. It only reads immutable session fields, so a BDAT
// goroutine may run it.
func (s *session) submit(msg *cleanup.Message, content io.Reader) submitResult {
	if ls, ok := s.srv.Submitter.(LMTPSubmitter); ok && s.opt.LMTP {
		id, results, err := ls.SubmitLMTP(s.ctx, msg, content)
		return submitResult{id: id, err: err, results: results}
	}
	id, err := s.srv.Submitter.Submit(s.ctx, msg, content)
	return submitResult{id: id, err: err}
}

// message builds the envelope of the open transaction.
func (s *session) message() *cleanup.Message {
	t := s.txn
	m := &cleanup.Message{Sender: t.sender, Recipients: t.rcpts}
	attr := func(name, value string) {
		if value != "" {
			m.Attrs = append(m.Attrs, queue.Attr{Name: name, Value: value})
		}
	}
	attr(queue.AttrClientName, s.info.Name)
	if s.info.Addr.IsValid() {
		attr(queue.AttrClientAddr, s.info.Addr.String())
	}
	attr(queue.AttrHelo, s.info.Helo)
	attr(queue.AttrProtocol, s.withProtocol())
	attr(queue.AttrEnvID, t.envid)
	attr(queue.AttrRet, t.ret)
	if t.smtputf8 {
		attr(queue.AttrSMTPUTF8, "yes")
	}
	attr(queue.AttrBody, t.body)
	rcpts, now := s.info.Recipients, s.opt.now()
	m.ReceivedFor = func(id string) string { return receivedHeader(s, rcpts, now, id) }
	// Postfix logs "ID: client=..., sasl_method=..., sasl_username=..."
	// first of all the message's lines.
	extra := s.saslLogExtra()
	var queueID string
	m.OnQueueID = func(id string) {
		queueID = id
		s.log.QueuedClient(id, s.client, extra)
	}
	// MSA grooming for local_header_rewrite_clients (Date:, Message-ID:,
	// From: completed by cleanup).
	m.Local = s.srv.Policy.LocalHeaderRewrite(s.ctx, &s.info)
	acts := s.info.Actions
	m.Hold, m.Discard, m.Redirect = acts.Hold, acts.Discard, acts.Redirect
	m.Prepend = append([]string(nil), acts.Prepend...)
	// smtpd_end_of_data_restrictions, on a copy of the session's view:
	// the BDAT submitter runs in a goroutine of its own.
	info := s.info
	info.Recipients = append([]string(nil), s.info.Recipients...)
	info.Actions.Prepend = m.Prepend
	sender, pol, ctx := t.sender, s.srv.Policy, s.ctx
	m.EndOfData = func(size int64) *cleanup.Error {
		info.Size = size
		r := pol.CheckEndOfData(ctx, &info)
		if r == nil {
			// Actions decided at the end of the data join the others.
			a := info.Actions
			if a.Hold != "" {
				m.Hold = a.Hold
			}
			if a.Discard != "" {
				m.Discard = a.Discard
			}
			if a.Redirect != "" {
				m.Redirect = a.Redirect
			}
			m.Prepend = a.Prepend
			return nil
		}
		to := ""
		if len(info.Recipients) == 1 {
			to = info.Recipients[0]
		}
		s.log.Reject(queueID, "END-OF-MESSAGE", s.client, r.String(), sender, to, info.Protocol, info.Helo)
		return &cleanup.Error{Code: r.Code, DSN: r.DSN, Text: r.Text}
	}
	return m
}

// finish answers the end of a message and closes the transaction.
// sizeNote is BDAT's " N bytes" in "Ok: N bytes queued as ID".
func (s *session) finish(msg *cleanup.Message, res submitResult, tooBig bool, sizeNote string) error {
	defer s.resetTxn()
	var r *Reply
	switch {
	case tooBig:
		r = &Reply{Code: 552, DSN: "5.3.4", Text: "Error: message file too big"}
	case res.err != nil:
		r = s.submitReply(res.err)
	default:
		s.junk = 0
		r = &Reply{Code: 250, DSN: "2.0.0", Text: "Ok:" + sizeNote + " queued as " + res.id}
	}
	if !s.opt.LMTP {
		s.replyR(r)
		if r.Code >= 400 {
			return errFail
		}
		return nil
	}
	// RFC 2033 §4.2: one reply per accepted recipient, in order.
	failed := 0
	for i := range msg.Recipients {
		ri := r
		if r.Code < 400 && i < len(res.results) && res.results[i] != nil {
			ri = s.submitReply(res.results[i])
		}
		if ri.Code >= 400 {
			failed++
		}
		s.replyR(ri)
	}
	if failed == len(msg.Recipients) {
		return errFail
	}
	return nil
}

// submitReply turns a submission error into the client's reply.
func (s *session) submitReply(err error) *Reply {
	var ce *cleanup.Error
	if errors.As(err, &ce) {
		return &Reply{Code: ce.Code, DSN: ce.DSN, Text: ce.Text}
	}
	s.srv.Log.Error("smtpd: queue submission failed", "client", s.client, "err", err)
	return &Reply{Code: 451, DSN: "4.3.0", Text: "Error: queue file write error"}
}

// limitReader enforces message_size_limit on the content handed to the
// submitter and remembers a client read error, so the session can tell
// its own failures from the submitter's.
type limitReader struct {
	r      io.Reader
	limit  int64
	size   func() int64
	tooBig bool
	err    error // a read error other than io.EOF
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.tooBig {
		return 0, errTooBig
	}
	n, err := l.r.Read(p)
	if l.limit > 0 && l.size() > l.limit {
		// Postfix reads on to the end of the data and then answers 552;
		// the submitter sees an error and writes nothing.
		l.tooBig = true
		return 0, errTooBig
	}
	if err != nil && err != io.EOF {
		l.err = err
	}
	return n, err
}

func (l *limitReader) failed() bool   { return l.err != nil }
func (l *limitReader) readErr() error { return l.err }

// submitPanic carries a panic out of a submitter goroutine so the session
// can report it like its own.
type submitPanic struct {
	value any
	stack []byte
}

type submitResult struct {
	id      string
	err     error
	results []error // LMTP per-recipient results, or nil
	pan     *submitPanic
}

// bdatTxn is a message arriving in BDAT chunks (RFC 3030): the submitter
// runs in its own goroutine reading a pipe that each chunk is copied into.
type bdatTxn struct {
	pw     *io.PipeWriter
	done   chan submitResult
	msg    *cleanup.Message
	size   int64
	failed *Reply // the transaction failed: chunks are skipped until LAST
	result *submitResult
}

func (s *session) startBdat() *bdatTxn {
	pr, pw := io.Pipe()
	b := &bdatTxn{pw: pw, done: make(chan submitResult, 1), msg: s.message()}
	go func() {
		var res submitResult
		defer func() {
			if v := recover(); v != nil {
				res.pan = &submitPanic{value: v, stack: debug.Stack()}
			}
			pr.CloseWithError(errAborted)
			b.done <- res
		}()
		res = s.submit(b.msg, pr)
	}()
	return b
}

// wait returns the submitter's result, once.
func (b *bdatTxn) wait() *submitResult {
	if b.result == nil {
		r := <-b.done
		b.result = &r
	}
	return b.result
}

// abort ends the submission without a message.
func (b *bdatTxn) abort() {
	b.pw.CloseWithError(errAborted)
	b.wait()
}

// cmdBdat receives one chunk (RFC 3030 §2).
func (s *session) cmdBdat(arg string) error {
	size, last, err := ParseBDAT(arg)
	if err != nil {
		// The chunk's length is unknown, so the rest of the input cannot
		// be told apart from commands: hang up, as Postfix does.
		s.log.Warning("%s: malformed BDAT command syntax from %s: %.100s", "NOQUEUE", s.client, arg)
		s.reply(521, "5.5.4", "Syntax: BDAT count [LAST]")
		return errHangup
	}
	if size == 0 && !last {
		if err := s.skip(size); err != nil {
			return err
		}
		return s.fail(551, "5.7.1", "Null BDAT request")
	}
	if s.txn == nil || s.txn.bdat == nil {
		var err error
		if s.txn == nil {
			err = s.fail(503, "5.5.1", "Error: need MAIL command")
		} else {
			err = s.checkContent()
		}
		if err != nil {
			if serr := s.skip(size); serr != nil {
				return serr
			}
			return err
		}
		s.txn.bdat = s.startBdat()
	}
	b := s.txn.bdat
	if b.failed == nil && s.opt.MessageSizeLimit > 0 && b.size+size > s.opt.MessageSizeLimit {
		b.pw.CloseWithError(errTooBig)
		b.wait()
		b.failed = &Reply{Code: 552, DSN: "5.3.4", Text: "Chunk exceeds message size limit"}
	}
	if b.failed == nil {
		if err := s.copyChunk(b, size); err != nil {
			return err
		}
	} else if err := s.skip(size); err != nil {
		return err
	}
	if b.failed != nil {
		s.replyR(b.failed)
		if last {
			s.resetTxn()
		}
		return errFail
	}
	if !last {
		s.reply(250, "2.0.0", "Ok: "+strconv.FormatInt(size, 10)+" bytes")
		return nil
	}
	b.pw.Close()
	res := b.wait()
	if res.pan != nil {
		panic(*res.pan)
	}
	s.where = "END-OF-MESSAGE"
	return s.finish(b.msg, *res, false, " "+strconv.FormatInt(b.size, 10)+" bytes")
}

// copyChunk copies size octets of chunk into the submission. If the
// submitter has already returned (a rejection), the rest is skipped and
// the transaction fails with its answer.
func (s *session) copyChunk(b *bdatTxn, size int64) error {
	buf := make([]byte, 32*1024)
	for size > 0 {
		n := int64(len(buf))
		if n > size {
			n = size
		}
		m, err := s.r.Read(buf[:n])
		size -= int64(m)
		b.size += int64(m)
		if m > 0 && b.failed == nil {
			if _, werr := b.pw.Write(buf[:m]); werr != nil {
				b.failed = s.earlyResult(b)
			}
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			s.lostBytes = b.size
			return err
		}
	}
	return nil
}

// earlyResult is the reply for a submitter that returned before LAST.
func (s *session) earlyResult(b *bdatTxn) *Reply {
	res := b.wait()
	if res.pan != nil {
		panic(*res.pan)
	}
	if res.err == nil {
		res.err = errors.New("submitter returned before the last chunk")
	}
	return s.submitReply(res.err)
}

// skip reads and drops a chunk that is refused.
func (s *session) skip(size int64) error {
	n, err := io.CopyN(io.Discard, s.r, size)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		s.lostBytes = n
		return err
	}
	return nil
}
