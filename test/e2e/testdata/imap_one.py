# One IMAP action on INBOX through Python's imaplib, for the tests of other
# clients (test/e2e/mailclients_test.go):
#   imap_one.py PORT CAFILE USER PASSWORD flags SUBJECT
#       prints the FLAGS of the message with that subject, or "none"
#   imap_one.py PORT CAFILE USER PASSWORD move SUBJECT FOLDER
#       moves it (UID MOVE) and prints the reply
import imaplib
import ssl
import sys

port, cafile, user, password, action, subject = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=cafile)
ctx.check_hostname = False
c = imaplib.IMAP4("127.0.0.1", int(port))
c.starttls(ctx)
c.login(user, password)
c.select("INBOX")
typ, data = c.uid("SEARCH", "SUBJECT", '"%s"' % subject)
uids = data[0].split()
if action == "flags":
    if not uids:
        print("none")
    else:
        typ, data = c.uid("FETCH", uids[0], "(FLAGS)")
        print(imaplib.ParseFlags(data[0]))
elif action == "move":
    if len(uids) != 1:
        sys.exit("move: %d messages with subject %r" % (len(uids), subject))
    print(c.uid("MOVE", uids[0], sys.argv[7]))
c.logout()
