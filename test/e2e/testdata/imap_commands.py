# Every IMAP command of issue 7 through Python's imaplib, against a running
# mailhorn (test/e2e/imap_test.go TestImaplibCommands). It asserts nothing:
# it prints one JSON object, step name -> "TYPE data..." (the tagged result
# and the data imaplib returns, or for raw steps every untagged response),
# and the Go test checks it.
#
# usage: imap_commands.py PORT CAFILE USER PASSWORD
# INBOX holds two delivered messages ("first", "second") when it starts.
import imaplib
import json
import ssl
import sys

port, cafile, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
out = {}


def text(x):
    if isinstance(x, bytes):
        return x.decode("latin-1")
    if isinstance(x, tuple):
        return " ".join(text(y) for y in x)
    return "NIL" if x is None else str(x)


def step(name, res):
    typ, data = res
    out[name] = typ + " " + "\n".join(text(d) for d in data)


def raw(conn, name, cmd, *args):
    """Any command; records the tagged reply and every untagged response."""
    imaplib.Commands.setdefault(cmd, ("NONAUTH", "AUTH", "SELECTED"))
    conn.untagged_responses.clear()
    try:
        typ, data = conn._simple_command(cmd, *args)
    except conn.error as e:
        out[name] = "BAD " + str(e)
        return
    lines = [typ + " " + text(data[-1] if data else b"")]
    for k, v in conn.untagged_responses.items():
        lines += [k + " " + text(d) for d in v]
    conn.untagged_responses.clear()
    out[name] = "\n".join(lines)


def attempt(name, fn, *args):
    """A call that imaplib turns into an exception on NO."""
    try:
        step(name, fn(*args))
    except imaplib.IMAP4.error as e:
        out[name] = "NO " + str(e)


ctx = ssl.create_default_context(cafile=cafile)
ctx.check_hostname = False


def connect():
    c = imaplib.IMAP4("127.0.0.1", port)
    c.starttls(ctx)
    return c


c = imaplib.IMAP4("127.0.0.1", port)
out["capability_plain"] = " ".join(c.capabilities)
c.starttls(ctx)
step("capability_tls", c.capability())
raw(c, "id", "ID", '("name" "e2e-imaplib" "version" "1")')
plain = ("\0" + user + "\0" + password).encode()
step("authenticate", c.authenticate("PLAIN", lambda _: plain))
step("capability_auth", c.capability())
raw(c, "enable", "ENABLE", "CONDSTORE")
step("namespace", c.namespace())

# Folders.
step("create", c.create("Work/2024"))
step("create_projects", c.create("Projects"))
step("rename", c.rename("Projects", "Done"))
step("delete", c.delete("Done"))
attempt("delete_missing", c.delete, "Done")
raw(c, "create_special_use", "CREATE", "Old", "(USE (\\Archive))")
raw(c, "create_special_use_flagged", "CREATE", "Important", "(USE (\\Flagged))")
step("subscribe", c.subscribe("Work/2024"))
step("unsubscribe_none", c.unsubscribe("Archive"))
step("list", c.list())
step("list_work", c.list('""', "Work/%"))
step("lsub", c.lsub())
raw(c, "list_subscribed", "LIST", "(SUBSCRIBED)", '""', '"*"')
raw(c, "list_return_children", "LIST", '""', '"%"', "RETURN", "(CHILDREN)")
raw(c, "list_special_use", "LIST", "(SPECIAL-USE)", '""', '"*"')
raw(c, "list_status", "LIST", '""', '"INBOX"', "RETURN", "(STATUS (MESSAGES UIDNEXT SIZE))")

# APPEND: a multipart message, a large flagged one, a small one.
multipart = (
    b"From: Dora <dora@example.org>\r\n"
    b"To: alice@example.test\r\n"
    b"Subject: Multipart report\r\n"
    b"Date: Wed, 15 Jan 2020 10:00:00 +0000\r\n"
    b"Message-ID: <multi@e2e.test>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n'
    b"\r\n"
    b"--b1\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Hello multipart world\r\n"
    b"--b1\r\n"
    b'Content-Type: application/octet-stream; name="data.bin"\r\n'
    b'Content-Disposition: attachment; filename="data.bin"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"AAECAwQFBgcICQ==\r\n"
    b"--b1--\r\n"
)
step("append_multipart", c.append("INBOX", "(\\Seen)", imaplib.Time2Internaldate(1579082400), multipart))
big = (
    b"From: Eve <eve@example.org>\r\nTo: alice@example.test\r\nSubject: Zebra crossing\r\n"
    b"Date: Tue, 01 Jun 2021 12:00:00 +0000\r\n\r\nthe quick brown fox\r\n" + b"x" * 76 + b"\r\n"
) * 1
big += (b"y" * 76 + b"\r\n") * 80
step("append_big", c.append("INBOX", "(\\Flagged $Work)", imaplib.Time2Internaldate(1622548800), big))
small = b"From: Fred <fred@example.org>\r\nTo: alice@example.test\r\nSubject: apple pie\r\n\r\nrecipe\r\n"
step("append_small", c.append("INBOX", None, None, small))
attempt("append_missing", c.append, "NoSuchFolder", None, None, small)

step("status", c.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE HIGHESTMODSEQ)"))
step("examine", c.select("INBOX", readonly=True))
out["examine_readonly"] = text(c.response("READ-ONLY")[1])
attempt("store_readonly", c.store, "1", "+FLAGS", "\\Flagged")
step("select", c.select("INBOX"))
out["select_uidvalidity"] = text(c.response("UIDVALIDITY")[1])
out["select_highestmodseq"] = text(c.response("HIGHESTMODSEQ")[1])

# FETCH.
step("fetch_all", c.fetch("1:*", "(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)"))
step("fetch_bodystructure", c.fetch("3", "(BODYSTRUCTURE)"))
step("fetch_body", c.fetch("3", "(BODY)"))
step("fetch_header_fields", c.fetch("3", "(BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])"))
step("fetch_header_not", c.fetch("5", "(BODY.PEEK[HEADER.FIELDS.NOT (FROM TO)])"))
step("fetch_part1", c.fetch("3", "(BODY.PEEK[1])"))
step("fetch_part2_mime", c.fetch("3", "(BODY.PEEK[2.MIME])"))
step("fetch_part2", c.fetch("3", "(BODY.PEEK[2])"))
step("fetch_text_partial", c.fetch("3", "(BODY.PEEK[TEXT]<0.20>)"))
step("fetch_partial", c.fetch("4", "(BODY.PEEK[]<6.9>)"))
step("fetch_flags_before", c.fetch("5", "(FLAGS)"))
step("fetch_rfc822_header", c.fetch("5", "(RFC822.HEADER)"))
step("fetch_body_sets_seen", c.fetch("5", "(BODY[])"))
step("fetch_flags_after", c.fetch("5", "(FLAGS)"))
step("fetch_rfc822_text", c.fetch("5", "(RFC822.TEXT)"))
step("fetch_modseq", c.fetch("1:*", "(MODSEQ)"))
step("uid_fetch", c.uid("FETCH", "4:5", "(FLAGS)"))

# STORE.
step("store_add", c.store("1", "+FLAGS", "(\\Flagged $Todo)"))
step("store_remove", c.store("1", "-FLAGS", "($Todo)"))
step("store_silent", c.store("2", "+FLAGS.SILENT", "(\\Answered)"))
raw(c, "store_unchanged_fails", "STORE", "2", "(UNCHANGEDSINCE 1)", "+FLAGS", "(\\Draft)")
raw(c, "store_unchanged_ok", "STORE", "1", "(UNCHANGEDSINCE 1000)", "+FLAGS", "(\\Draft)")
step("fetch_flags_stored", c.fetch("1:2", "(FLAGS)"))

# SEARCH and ESEARCH.
searches = {
    "subject": ("SUBJECT", '"zebra"'),
    "from": ("FROM", "dora@example.org"),
    "header": ("HEADER", "Message-ID", '"<first@e2e.test>"'),
    "body": ("BODY", '"quick brown"'),
    "text": ("TEXT", "multipart"),
    "since": ("SINCE", "1-Jan-2021"),
    "before": ("BEFORE", "1-Jan-2021"),
    "on": ("ON", "15-Jan-2020"),
    "sentbefore": ("SENTBEFORE", "1-Jan-2021"),
    "flagged": ("FLAGGED",),
    "unseen": ("UNSEEN",),
    "keyword": ("KEYWORD", "$Work"),
    "larger": ("LARGER", "5000"),
    "smaller": ("SMALLER", "200"),
    "seqset": ("2:4",),
    "uidset": ("UID", "2,4:5"),
    "not_or": ("NOT", "OR", "FLAGGED", "SEEN"),
    "modseq": ("MODSEQ", "1"),
}
for name, crit in searches.items():
    step("search_" + name, c.search(None, *crit))
step("uid_search", c.uid("SEARCH", "SUBJECT", "apple"))
raw(c, "esearch", "SEARCH", "RETURN", "(MIN MAX COUNT ALL)", "ALL")
raw(c, "esearch_uid", "UID", "SEARCH", "RETURN", "(COUNT)", "FLAGGED")
step("sort_subject", c.sort("(SUBJECT)", "UTF-8", "ALL"))
step("sort_size_reverse", c.sort("(REVERSE SIZE)", "UTF-8", "ALL"))
step("sort_arrival", c.sort("(ARRIVAL)", "UTF-8", "ALL"))

# COPY, MOVE, UID EXPUNGE.
step("copy", c.copy("3", "Archive"))
out["copy_copyuid"] = text(c.response("COPYUID")[1])
c.untagged_responses.clear()
raw(c, "move", "UID", "MOVE", "4", "Archive")
step("store_deleted", c.store("1:2", "+FLAGS.SILENT", "(\\Deleted)"))
raw(c, "uid_expunge", "UID", "EXPUNGE", "1")
step("search_after_expunge", c.uid("SEARCH", "ALL"))
step("status_archive", c.status("Archive", "(MESSAGES)"))

# IDLE: another session appends while this one idles.
tag = c._new_tag()
c.send(tag + b" IDLE\r\n")
out["idle_continuation"] = text(c.readline().rstrip())
other = connect()
other.login(user, password)
other.append("INBOX", None, None, b"Subject: during idle\r\n\r\nhi\r\n")
other.logout()
updates = []
while not any("EXISTS" in u for u in updates) and len(updates) < 10:
    updates.append(text(c.readline().rstrip()))
out["idle_update"] = "\n".join(updates)
c.send(b"DONE\r\n")
lines = []
while True:
    line = c.readline().rstrip()
    lines.append(text(line))
    if line.startswith(tag):
        break
out["idle_done"] = "\n".join(lines)

step("unselect", c.unselect())
c.state = "SELECTED"  # imaplib would not send it: the server must refuse it
raw(c, "fetch_after_unselect", "FETCH", "1", "(FLAGS)")
c.state = "AUTH"

# QUOTA.
step("getquotaroot", c.getquotaroot("INBOX"))
step("getquota", c.getquota('""'))
attempt("setquota", c.setquota, '""', "(STORAGE 1)")
step("logout", c.logout())

print(json.dumps(out))
