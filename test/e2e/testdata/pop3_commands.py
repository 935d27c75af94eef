# Every POP3 command through Python's poplib, against a running mailhorn
# (test/e2e/pop3_test.go TestPoplibCommands), then the same INBOX over
# IMAP. Like imap_commands.py it only records: one JSON object, step name
# -> reply text (or "ERR text" for a refused command).
#
# usage: pop3_commands.py POP3PORT IMAPPORT CAFILE USER PASSWORD
# INBOX holds three delivered messages when it starts.
import base64
import imaplib
import json
import poplib
import ssl
import sys

port, imap_port, cafile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
user, password = sys.argv[4], sys.argv[5]
out = {}
ctx = ssl.create_default_context(cafile=cafile)
ctx.check_hostname = False


def text(x):
    if isinstance(x, bytes):
        return x.decode("latin-1")
    if isinstance(x, (list, tuple)):
        return "\n".join(text(y) for y in x)
    return str(x)


def rec(name, fn, *args):
    try:
        out[name] = text(fn(*args))
    except poplib.error_proto as e:
        out[name] = "ERR " + text(e.args[0])


def tls_session():
    p = poplib.POP3("127.0.0.1", port)
    p.stls(ctx)
    return p


# Session 1: USER/PASS.
p = poplib.POP3("127.0.0.1", port)
out["welcome"] = text(p.getwelcome())
rec("capa_plain", lambda: sorted(p.capa()))
rec("user_before_stls", p.user, user)
rec("stls", p.stls, ctx)
rec("capa_tls", lambda: ["%s %s" % (k, " ".join(v)) for k, v in sorted(p.capa().items())])
rec("user", p.user, user)
rec("pass_wrong", p.pass_, "wrong")
rec("user_again", p.user, user)
rec("pass", p.pass_, password)
rec("stat", p.stat)
rec("list", lambda: p.list()[1])
rec("list_1", p.list, 1)
rec("list_9", p.list, 9)
rec("uidl", lambda: p.uidl()[1])
rec("uidl_2", p.uidl, 2)
rec("top", lambda: p.top(1, 0)[1])
rec("retr", lambda: p.retr(1)[1])
rec("dele_1", p.dele, 1)
rec("retr_deleted", p.retr, 1)
rec("list_deleted", p.list, 1)
rec("rset", p.rset)
rec("list_after_rset", p.list, 1)
rec("noop", p.noop)
rec("retr_3", lambda: p.retr(3)[0])
rec("dele_2", p.dele, 2)
rec("stat_after_dele", p.stat)
rec("quit", p.quit)

# Session 2: AUTH PLAIN (poplib has no method for it); a third session
# for the same mailbox meanwhile is refused.
p = tls_session()
rec("auth_plain", p._shortcmd, "AUTH PLAIN " + base64.b64encode(("\0" + user + "\0" + password).encode()).decode())
rec("stat_2", p.stat)
rec("uidl_2nd", lambda: p.uidl()[1])
q = tls_session()
q.user(user)
rec("pass_in_use", q.pass_, password)
q.close()
rec("quit_2", p.quit)
p = tls_session()
p.user(user)
rec("pass_after_unlock", p.pass_, password)
rec("uidl_3rd", lambda: p.uidl()[1])
rec("quit_3", p.quit)

# The same INBOX over IMAP.
c = imaplib.IMAP4("127.0.0.1", imap_port)
c.starttls(ctx)
c.login(user, password)
typ, data = c.status("INBOX", "(UIDVALIDITY)")
out["imap_uidvalidity"] = text(data[0])
c.select("INBOX", readonly=True)
typ, data = c.fetch("1:*", "(UID FLAGS)")
out["imap_fetch"] = text(data)
c.logout()

print(json.dumps(out))
