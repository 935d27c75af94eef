# IMAP and POP3 with TLS from the first byte (the 993 and 995 services,
# imapd_tls_wrappermode / pop3d_tls_wrappermode) through imaplib.IMAP4_SSL
# and poplib.POP3_SSL, checking the certificate and its host name
# (localhost). Prints what the test checks (test/e2e/pop3_test.go
# TestImplicitTLS).
#
# usage: implicit_tls.py IMAPSPORT POP3SPORT CAFILE USER PASSWORD
import imaplib
import poplib
import ssl
import sys

imaps, pop3s, cafile, user, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(cafile=cafile)
c = imaplib.IMAP4_SSL("localhost", imaps, ssl_context=ctx)
print("imaps capability:", " ".join(c.capabilities))
c.login(user, password)
c.select("INBOX", readonly=True)
typ, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
print("imaps fetch:", data[0][1].decode().strip())
c.logout()
p = poplib.POP3_SSL("localhost", pop3s, context=ctx)
print("pop3s capa:", " ".join(sorted(p.capa())))
p.user(user)
p.pass_(password)
print("pop3s stat:", p.stat())
p.quit()
