package imapd

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func TestBeforeLogin(t *testing.T) {
	ts := startServer(t, func(o *Options) { o.TLSAuthOnly = true; o.TLS = selfSigned(t) })
	c := ts.dial(t)
	caps := c.do("a CAPABILITY")
	expect(t, caps, `\* CAPABILITY IMAP4rev1 IMAP4rev2 .*STARTTLS LOGINDISABLED`, `a OK CAPABILITY completed.`)
	refuse(t, caps, `.*AUTH=.*`)
	// Commands that need a login are refused, the session goes on.
	for _, cmd := range []string{"b SELECT INBOX", "c LIST \"\" *", "d FETCH 1 FLAGS", "e APPEND INBOX {3}", "e2 APPEND INBOX {3+}\r\nabc"} {
		lines := c.do(cmd)
		expect(t, lines, `\w+ BAD Please log in first.`)
	}
	// LOGIN before STARTTLS: refused without a look at the password.
	expect(t, c.do(`f LOGIN alice@example.test secret`), `f NO \[PRIVACYREQUIRED\] .*`)
	expect(t, c.do(`g AUTHENTICATE PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=`), `g NO \[PRIVACYREQUIRED\] .*`)
	expect(t, c.do(`h ID ("name" "test")`), `\* ID \("name" "mailhorn"\)`, `h OK ID completed.`)
	expect(t, c.do(`i NOOP`), `i OK NOOP completed.`)
	expect(t, c.do(`j FOO`), `j BAD Unknown command.`)
	expect(t, c.do(`k LOGOUT`), `\* BYE Logging out`, `k OK LOGOUT completed.`)
}

func TestStartTLSDiscardsPipelined(t *testing.T) {
	ts := startServer(t, func(o *Options) { o.TLSAuthOnly = true; o.TLS = selfSigned(t) })
	c := ts.dial(t)
	// "b" rides in the same packet as STARTTLS: it must not be run.
	c.conn.Write([]byte("a STARTTLS\r\nb LOGIN alice@example.test secret\r\n"))
	expect(t, c.until("a"), `a OK Begin TLS negotiation now.`)
	tc := tls.Client(c.conn, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.conn = tc
	c.r.Reset(tc)
	lines := c.do("c CAPABILITY")
	refuse(t, lines, `b .*`)
	expect(t, lines, `\* CAPABILITY .*AUTH=PLAIN.*`, `c OK .*`)
	refuse(t, lines, `.*LOGINDISABLED.*`)
	expect(t, c.do("d LOGIN alice@example.test secret"), `d OK \[CAPABILITY .*\] Logged in`)
	if !strings.Contains(ts.logText(), "Login: user=<alice@example.test>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, TLS") {
		t.Errorf("log:\n%s", ts.logText())
	}
}

func TestWrapperMode(t *testing.T) {
	ts := startServer(t, func(o *Options) { o.TLSAuthOnly = true; o.TLS = selfSigned(t); o.WrapperMode = true })
	conn, err := tls.Dial("tcp", ts.addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &client{t: t, conn: conn}
	c.r = newReader(conn)
	if g := c.line(); !strings.Contains(g, "AUTH=PLAIN") || strings.Contains(g, "STARTTLS") {
		t.Fatalf("greeting %q", g)
	}
	expect(t, c.do("a LOGIN alice@example.test secret"), `a OK .*`)
}

func TestLoginFailures(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dial(t)
	wrong := c.do("a LOGIN alice@example.test wrong")
	unknown := c.do("b LOGIN nobody@example.test wrong")
	if strings.TrimPrefix(wrong[0], "a") != strings.TrimPrefix(unknown[0], "b") {
		t.Errorf("unknown user and wrong password differ: %q, %q", wrong, unknown)
	}
	expect(t, wrong, `a NO \[AUTHENTICATIONFAILED\] Authentication failed.`)
	c.do("c LOGOUT")
	if !strings.Contains(ts.logText(), "Aborted login (auth failed, 2 attempts): user=<nobody@example.test>, method=PLAIN, rip=127.0.0.1") {
		t.Errorf("log:\n%s", ts.logText())
	}
	// Brute force: the auth service's limit cuts the client off.
	c = ts.dial(t)
	cut := false
	for i := 0; i < 100 && !cut; i++ {
		c.send("x LOGIN alice@example.test guess" + itoa(uint64(i)))
		for {
			l := c.line()
			if strings.HasPrefix(l, "* BYE") {
				cut = true
				break
			}
			if strings.HasPrefix(l, "x ") {
				break
			}
		}
	}
	if !cut {
		t.Fatal("100 bad logins and no BYE")
	}
	// The server stays up: a new client still gets a greeting.
	ts.auth.mu.Lock()
	ts.auth.tempFail = true
	ts.auth.mu.Unlock()
	c = ts.dial(t)
	expect(t, c.do("y LOGIN alice@example.test secret"), `y NO \[UNAVAILABLE\] .*`)
}

func TestAuthenticate(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dial(t)
	ir := base64.StdEncoding.EncodeToString([]byte("\x00alice@example.test\x00wrong"))
	expect(t, c.do("a AUTHENTICATE PLAIN "+ir), `a NO \[AUTHENTICATIONFAILED\] Authentication failed.`)
	expect(t, c.do("b AUTHENTICATE PLAIN !!!"), `b BAD .*`)
	expect(t, c.do("c AUTHENTICATE CRAM-MD5"), `c NO Unsupported authentication mechanism.`)
	c.send("d AUTHENTICATE PLAIN")
	if l := c.line(); l != "+ " {
		t.Fatalf("continuation %q", l)
	}
	c.send("*")
	expect(t, c.until("d"), `d BAD Authentication aborted by client.`)
	c.send("e AUTHENTICATE PLAIN")
	c.line()
	c.send("%%%")
	expect(t, c.until("e"), `e BAD Invalid base64 .*`)
	c.send("f AUTHENTICATE PLAIN")
	c.line()
	c.send(base64.StdEncoding.EncodeToString([]byte("\x00alice@example.test\x00secret")))
	expect(t, c.until("f"), `f OK \[CAPABILITY .*IDLE.*\] Logged in`)
}

func TestMailboxCommands(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.login(t)
	lines := c.do(`a LIST "" *`)
	expect(t, lines, `\* LIST \(\\HasNoChildren\) "/" "?INBOX"?`, `a OK LIST completed.`)
	expect(t, lines, `\* LIST \(\\HasNoChildren \\Sent\) "/" "?Sent"?`)
	expect(t, c.do(`b LIST "" ""`), `\* LIST \(\\Noselect\) "/" ""`)
	expect(t, c.do(`c CREATE Projects/2024`), `c OK .*`)
	expect(t, c.do(`d CREATE Projects/2024`), `d NO \[ALREADYEXISTS\] .*`)
	expect(t, c.do(`e LIST "" Projects/%`), `\* LIST \(.*\) "/" "?Projects/2024"?`)
	expect(t, c.do(`f LIST "" %`), `\* LIST \(\\Noselect \\HasChildren\) "/" "?Projects"?`)
	expect(t, c.do(`g RENAME Projects/2024 Projects/2025`), `g OK .*`)
	expect(t, c.do(`h STATUS Projects/2025 (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ)`),
		`\* STATUS "?Projects/2025"? \(MESSAGES 0 UIDNEXT 1 UIDVALIDITY \d+ UNSEEN 0 DELETED 0 SIZE 0 RECENT 0 HIGHESTMODSEQ \d+\)`)
	expect(t, c.do(`i SUBSCRIBE Projects/2025`), `i OK .*`)
	expect(t, c.do(`j LSUB "" *`), `\* LSUB \(\) "/" "?Projects/2025"?`, `j OK .*`)
	expect(t, c.do(`k LIST (SUBSCRIBED) "" * RETURN (CHILDREN STATUS (MESSAGES))`),
		`\* LIST \(\\HasNoChildren \\Subscribed\) "/" "?Projects/2025"?`, `\* STATUS "?Projects/2025"? \(MESSAGES 0\)`)
	expect(t, c.do(`l LIST (SPECIAL-USE) "" *`), `\* LIST \(.*\\Trash\) "/" "?Trash"?`)
	expect(t, c.do(`m CREATE Stuff (USE (\Archive))`), `m OK .*|m NO \[.*\] .*`)
	expect(t, c.do(`n DELETE Projects/2025`), `n OK .*`)
	expect(t, c.do(`o DELETE INBOX`), `o NO .*`)
	expect(t, c.do(`p DELETE Nonesuch`), `p NO \[NONEXISTENT\] .*`)
	expect(t, c.do(`q NAMESPACE`), `\* NAMESPACE \(\("" "/"\)\) NIL NIL`)
	// Path traversal and other bad names never reach the disk.
	for i, name := range []string{`../x`, `INBOX/../../etc`, `"a//b"`, `.hidden`, `"x/./y"`, `"~root"`} {
		tag := string(rune('r' + i))
		expect(t, c.do(tag+` CREATE `+name), tag+` (NO|BAD) .*`)
		expect(t, c.do(tag+` SELECT `+name), tag+` (NO|BAD) .*`)
	}
	// Modified UTF-7 for IMAP4rev1 clients.
	expect(t, c.do(`y CREATE "Gr&APw-n"`), `y OK .*`)
	expect(t, c.do(`z LIST "" Gr*`), `\* LIST \(.*\) "/" "?Gr&APw-n"?`)
	expect(t, c.do(`z2 ENABLE UTF8=ACCEPT`), `\* ENABLED UTF8=ACCEPT`)
	expect(t, c.do(`z3 LIST "" Gr*`), `\* LIST \(.*\) "/" "Grün"`)
}

func TestMessages(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.login(t)
	expect(t, c.appendMsg("INBOX", `(\Flagged) "07-Feb-1994 22:43:04 -0800"`, msg1), `ap OK \[APPENDUID \d+ 1\] .*`)
	expect(t, c.appendMsg("INBOX", `()`, msg2), `ap OK \[APPENDUID \d+ 2\] .*`)
	expect(t, c.appendMsg("INBOX", `(\Seen $Important)`, msg3), `ap OK \[APPENDUID \d+ 3\] .*`)
	expect(t, c.appendMsg("Nonesuch", ``, msg3), `ap NO \[TRYCREATE\] .*`)
	lines := c.do("s SELECT INBOX")
	expect(t, lines, `\* FLAGS \(.*\\Seen.*\)`, `\* OK \[PERMANENTFLAGS \(.*\\\*\)\] .*`, `\* 3 EXISTS`, `\* 0 RECENT`,
		`\* OK \[UNSEEN 1\] .*`, `\* OK \[UIDVALIDITY \d+\] .*`, `\* OK \[UIDNEXT 4\] .*`, `s OK \[READ-WRITE\] Select completed.`)

	lines = c.do("f1 FETCH 1 (FLAGS UID INTERNALDATE RFC822.SIZE ENVELOPE)")
	expect(t, lines, `\* 1 FETCH \(FLAGS \(\\Flagged\) UID 1 INTERNALDATE "( 7-Feb-1994 22:43:04 -0800| 8-Feb-1994 06:43:04 \+0000)" RFC822.SIZE \d+ ENVELOPE \("Mon, 7 Feb 1994 21:52:25 -0800" "Re: \[list\] Lunch plans" \(\("Alice" NIL "alice" "example.test"\)\).*\)\)`)
	lines = c.do("f2 FETCH 2 (BODYSTRUCTURE)")
	expect(t, lines, `\* 2 FETCH \(BODYSTRUCTURE \(\("text" "plain" \("charset" "utf-8"\).*\)\("application" "octet-stream" .*"mixed".*\)\)`)
	lines = c.do("f3 FETCH 2 (BODY.PEEK[1] BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[]<0.4>)")
	expect(t, lines, `\* 2 FETCH \(BODY\[1\] \{\d+\}\r\nSee the attached numbers. Grüße. BODY\[HEADER.FIELDS \(SUBJECT\)\] \{\d+\}\r\nSubject: Quarterly report\r\n\r\n BODY\[\]<0> \{4\}\r\nFrom\)`)
	refuse(t, lines, `.*FLAGS.*`)
	// BODY[] sets \Seen and reports it.
	lines = c.do("f4 FETCH 2 (BODY[TEXT]<0.10>)")
	expect(t, lines, `\* 2 FETCH \(BODY\[TEXT\]<0> \{10\}\r\n--b1\r\nCont FLAGS \(\\Seen\)\)`)
	lines = c.do("f5 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1)")
	expect(t, lines, `\* \d FETCH \(UID \d FLAGS \(.*\) MODSEQ \(\d+\)\)`, `f5 OK .*`)
	lines = c.do("f6 FETCH 1 (RFC822.HEADER RFC822.SIZE)")
	expect(t, lines, `\* 1 FETCH \(RFC822.HEADER \{\d+\}\r\nFrom: Alice.*\r\n\r\n RFC822.SIZE \d+\)`)
	expect(t, c.do("f7 FETCH 9 FLAGS"), `f7 BAD .*`)
	expect(t, c.do("f8 UID FETCH 9 FLAGS"), `f8 OK .*`)
	expect(t, c.do("f9 FETCH 1 (BODY[1.2.HEADER.FIELDS.NOT])"), `f9 BAD .*`)

	// SEARCH
	expect(t, c.do(`k1 SEARCH FROM alice`), `\* SEARCH 1`)
	expect(t, c.do(`k2 UID SEARCH SUBJECT "quarterly"`), `\* SEARCH 2`)
	expect(t, c.do(`k3 SEARCH BODY "apple a day"`), `\* SEARCH 3`)
	expect(t, c.do(`k4 SEARCH CHARSET UTF-8 TEXT "grüße"`), `\* SEARCH 2`)
	expect(t, c.do(`k5 SEARCH OR FLAGGED KEYWORD $Important`), `\* SEARCH 1 3`)
	expect(t, c.do(`k6 SEARCH NOT SEEN`), `\* SEARCH 1`)
	expect(t, c.do(`k7 SEARCH SENTBEFORE 8-Feb-1994`), `\* SEARCH 1`)
	expect(t, c.do(`k8 SEARCH SENTON 8-Feb-1994`), `\* SEARCH 2`)
	expect(t, c.do(`k9 SEARCH SENTSINCE 9-Feb-1994`), `\* SEARCH 3`)
	expect(t, c.do(`k10 SEARCH BEFORE 1-Jan-2000`), `\* SEARCH 1`)
	expect(t, c.do(`k11 SEARCH SINCE 1-Jan-2000`), `\* SEARCH 2 3`)
	expect(t, c.do(`k12 SEARCH LARGER 223`), `\* SEARCH 2 3`)
	expect(t, c.do(`k13 SEARCH (UID 2:3) SMALLER 224`), `\* SEARCH`)
	expect(t, c.do(`k14 SEARCH HEADER Message-ID "<1@"`), `\* SEARCH 1`)
	expect(t, c.do(`k15 SEARCH 2:* NOT DELETED`), `\* SEARCH 2 3`)
	expect(t, c.do(`k16 SEARCH RETURN (MIN MAX COUNT ALL) ALL`), `\* ESEARCH \(TAG "k16"\) MIN 1 MAX 3 ALL 1:3 COUNT 3`)
	expect(t, c.do(`k17 UID SEARCH RETURN (SAVE) FROM alice`), `k17 OK .*`)
	expect(t, c.do(`k18 FETCH $ (UID)`), `\* 1 FETCH \(UID 1\)`)
	expect(t, c.do(`k19 SEARCH CHARSET KOI8-R ALL`), `k19 NO \[BADCHARSET.*`)
	expect(t, c.do(`k20 SEARCH FOO`), `k20 BAD .*`)
	expect(t, c.do(`k21 SEARCH CC carol TO bob`), `\* SEARCH 1`)
	expect(t, c.do(`k22 SEARCH MODSEQ 1`), `\* SEARCH 1 2 3 \(MODSEQ \d+\)`)

	// SORT
	expect(t, c.do(`o1 SORT (SUBJECT) UTF-8 ALL`), `\* SORT 3 1 2`) // apples, lunch plans, quarterly
	expect(t, c.do(`o2 SORT (REVERSE SIZE) UTF-8 ALL`), `\* SORT \d \d \d`)
	expect(t, c.do(`o3 UID SORT (FROM) UTF-8 ALL`), `\* SORT 1 3 2`) // alice, bob, zed
	expect(t, c.do(`o4 SORT (DATE) UTF-8 NOT UID 1`), `\* SORT 2 3`)

	// STORE
	expect(t, c.do(`t1 STORE 1 +FLAGS (\Deleted)`), `\* 1 FETCH \(FLAGS \(\\Deleted \\Flagged\) MODSEQ \(\d+\)\)`, `t1 OK .*`) // CONDSTORE is on since CHANGEDSINCE
	expect(t, c.do(`t2 STORE 1 -FLAGS.SILENT (\Flagged)`), `t2 OK .*`)
	expect(t, c.do(`t3 UID STORE 2 FLAGS (\Answered Junk)`), `\* FLAGS \(.*Junk.*\)`, `\* 2 FETCH \(UID 2 FLAGS \(.*\) MODSEQ \(\d+\)\)`)
	expect(t, c.do(`t4 STORE 1 +FLAGS (\Recent)`), `t4 BAD .*`)

	// COPY / MOVE
	expect(t, c.do(`c1 COPY 2:3 Archive`), `c1 OK \[COPYUID \d+ 2:3 1:2\] Copy completed.`)
	expect(t, c.do(`c2 COPY 1 Nonesuch`), `c2 NO \[TRYCREATE\] .*`)
	lines = c.do(`c3 UID MOVE 3 Trash`)
	expect(t, lines, `\* OK \[COPYUID \d+ 3 1\] .*`, `\* 3 EXPUNGE`, `c3 OK .*`)

	// EXPUNGE
	expect(t, c.do(`e1 EXPUNGE`), `\* 1 EXPUNGE`, `e1 OK .*`)
	expect(t, c.do(`e2 FETCH 1 (UID)`), `\* 1 FETCH \(UID 2\)`)
	expect(t, c.do(`e3 UID STORE 2 +FLAGS.SILENT (\Deleted)`), `e3 OK .*`)
	expect(t, c.do(`e4 UID EXPUNGE 1:5`), `\* 1 EXPUNGE`)
	expect(t, c.do(`e5 STATUS Archive (MESSAGES)`), `\* STATUS "?Archive"? \(MESSAGES 2\)`)
	expect(t, c.do(`x1 EXAMINE Archive`), `\* OK \[CLOSED\] .*|\* 2 EXISTS`, `x1 OK \[READ-ONLY\] .*`)
	expect(t, c.do(`x2 STORE 1 +FLAGS (\Seen)`), `x2 NO .*`)
	expect(t, c.do(`x3 FETCH 1 BODY[]`), `x3 OK .*`)
	expect(t, c.do(`x4 UNSELECT`), `x4 OK .*`)
	expect(t, c.do(`x5 FETCH 1 FLAGS`), `x5 BAD No mailbox selected.`)
}

func TestCondstoreQresync(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.login(t)
	c.appendMsg("INBOX", "", msg1)
	c.appendMsg("INBOX", "", msg2)
	expect(t, c.do(`a ENABLE QRESYNC`), `\* ENABLED QRESYNC`)
	lines := c.do(`b SELECT INBOX`)
	expect(t, lines, `\* OK \[HIGHESTMODSEQ (\d+)\] .*`)
	expect(t, c.do(`c STORE 1 +FLAGS (\Seen)`), `\* 1 FETCH \(UID 1 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)`)
	expect(t, c.do(`d STORE 2 (UNCHANGEDSINCE 1) +FLAGS (\Seen)`), `d OK \[MODIFIED 2\] .*`)
	expect(t, c.do(`e UID STORE 1 +FLAGS (\Deleted)`), `e OK .*`)
	expect(t, c.do(`f EXPUNGE`), `\* VANISHED 1`, `f OK .*`)
	st := c.do(`g STATUS INBOX (UIDVALIDITY HIGHESTMODSEQ)`)
	expect(t, st, `\* STATUS "?INBOX"? \(UIDVALIDITY \d+ HIGHESTMODSEQ \d+\)`)
	var uv string
	for _, l := range st {
		if f := strings.Fields(l); len(f) > 5 && f[0] == "*" {
			uv = f[4]
		}
	}
	expect(t, c.do(`h UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)`), `\* VANISHED \(EARLIER\) 1`, `\* 1 FETCH \(UID 2 FLAGS \(.*\) MODSEQ \(\d+\)\)`)
	expect(t, c.do(`i SELECT INBOX (QRESYNC (`+uv+` 1 1:2))`), `\* OK \[CLOSED\] .*`, `\* VANISHED \(EARLIER\) 1`, `\* 1 FETCH \(UID 2 .*\)`, `i OK .*`)
}

func TestIdleSeesNewMail(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.login(t)
	expect(t, c.do(`a SELECT INBOX`), `\* 0 EXISTS`)
	c.send("b IDLE")
	if l := c.line(); l != "+ idling" {
		t.Fatalf("IDLE answered %q", l)
	}
	other := ts.login(t)
	other.appendMsg("INBOX", "", msg1)
	if l := c.line(); l != "* 1 EXISTS" {
		t.Fatalf("during IDLE: %q", l)
	}
	c.send("DONE")
	expect(t, c.until("b"), `b OK Idle completed.`)
	c.send("d IDLE")
	c.line()
	c.send("NOTDONE")
	expect(t, c.until("d"), `d BAD .*`)
}

func TestLimits(t *testing.T) {
	ts := startServer(t, func(o *Options) { o.LiteralLimit = 1000; o.LineLimit = 200 })
	c := ts.login(t)
	// A synchronising literal over the limit is refused before it is sent.
	c.send("a APPEND INBOX {99999999999}")
	expect(t, c.until("a"), `a NO \[TOOBIG\] .*`)
	c.send("b APPEND INBOX {1001}")
	expect(t, c.until("b"), `b NO \[TOOBIG\] .*`)
	expect(t, c.do("c NOOP"), `c OK .*`)
	c.send("d LOGIN {70000}")
	expect(t, c.until("d"), `d NO \[TOOBIG\] .*`)
	// A non-synchronising one ends the session, unread.
	c.send("e APPEND INBOX {5000+}")
	if l := c.line(); !strings.HasPrefix(l, "* BYE [TOOBIG]") {
		t.Fatalf("got %q", l)
	}
	c = ts.login(t)
	c.send("f NOOP " + strings.Repeat("x", 300))
	if l := c.line(); !strings.HasPrefix(l, "* BYE") {
		t.Fatalf("got %q", l)
	}
	// The server is still up.
	expect(t, ts.login(t).do("g NOOP"), `g OK .*`)
}

func TestConnLimit(t *testing.T) {
	ts := startServer(t, func(o *Options) { o.ConnLimit = 2 })
	ts.dial(t)
	ts.dial(t)
	c, err := dialRaw(ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 100)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _ := c.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "* BYE Too many connections") {
		t.Fatalf("got %q", buf[:n])
	}
}

func TestShutdownSaysBye(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.login(t)
	idler := ts.login(t)
	expect(t, idler.do("a SELECT INBOX"), `a OK .*`)
	idler.send("b IDLE")
	idler.line()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ts.srv.Shutdown(ctx)
	}()
	if l := c.line(); l != "* BYE Server shutting down." {
		t.Errorf("waiting session got %q", l)
	}
	if l := idler.line(); l != "* BYE Server shutting down." {
		t.Errorf("idling session got %q", l)
	}
}

func TestAutologout(t *testing.T) {
	ts := startServer(t, func(o *Options) { o.Timeout = 300 * time.Millisecond })
	c := ts.login(t)
	if l := c.line(); l != "* BYE Disconnected for inactivity." {
		t.Errorf("got %q", l)
	}
}

func TestQuota(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.login(t)
	c.appendMsg("INBOX", "", msg1)
	expect(t, c.do(`a GETQUOTAROOT INBOX`), `\* QUOTAROOT "?INBOX"? ""`, `\* QUOTA "" \(STORAGE \d+ 10240 MESSAGE \d+ 100\)`, `a OK .*`)
	expect(t, c.do(`b GETQUOTA ""`), `\* QUOTA "" \(STORAGE \d+ 10240 MESSAGE \d+ 100\)`)
	expect(t, c.do(`c SETQUOTA "" (STORAGE 1)`), `c NO \[NOPERM\] .*`)
}

func TestIMAP4rev2(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.login(t)
	c.appendMsg("INBOX", "", msg1)
	expect(t, c.do(`a ENABLE IMAP4rev2`), `\* ENABLED IMAP4rev2`)
	lines := c.do(`b SELECT INBOX`)
	expect(t, lines, `\* 1 EXISTS`, `\* LIST \(\) "/" "INBOX"`, `b OK \[READ-WRITE\] .*`)
	refuse(t, lines, `.*RECENT.*`)
	refuse(t, lines, `.*\[UNSEEN.*`)
	expect(t, c.do(`c SEARCH ALL`), `\* ESEARCH \(TAG "c"\) ALL 1`)
	expect(t, c.do(`d UID SEARCH SEEN`), `\* ESEARCH \(TAG "d"\) UID`)
	expect(t, c.do(`e SELECT INBOX`), `\* OK \[CLOSED\] .*`)
}
