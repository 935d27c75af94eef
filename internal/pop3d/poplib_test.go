package pop3d

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// poplibScript drives Python's poplib as a real client: STLS, USER/PASS,
// STAT, LIST, UIDL, TOP, RETR, DELE, RSET, NOOP, QUIT.
const poplibScript = `
import poplib, ssl, sys
host, port = sys.argv[1].rsplit(":", 1)
p = poplib.POP3(host, int(port), timeout=30)
caps = p.capa()
assert "STLS" in caps and "USER" not in caps, caps
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
p.stls(ctx)
caps = p.capa()
assert "USER" in caps and caps["SASL"] == ["PLAIN", "LOGIN"], caps
p.user("bob")
p.pass_("bob secret")
print("stat", p.stat())
resp, lst, _ = p.list()
print("list", [x.decode() for x in lst])
resp, uidl, _ = p.uidl()
print("uidl", [x.decode() for x in uidl])
p.dele(1)
p.rset()
p.noop()
resp, lines, octets = p.retr(2)
print("retr", [x.decode() for x in lines], octets)
resp, lines, octets = p.top(3, 1)
print("top", [x.decode() for x in lines])
p.dele(1)
p.dele(3)
print("quit", p.quit().decode())
`

func TestPoplib(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3 is needed for the poplib test")
		}
		t.Skip("python3 not installed")
	}
	o := testOptions(t)
	o.TLSAuthOnly = true
	srv, st := newMemServer(t, o)
	ts := startServer(t, srv)
	out, err := exec.Command(py, "-c", poplibScript, ts.addr).CombinedOutput()
	if err != nil {
		t.Fatalf("poplib: %v\n%s", err, out)
	}
	want := `stat (3, 128)
list ['1 45', '2 53', '3 30']
uidl ['1 0012d68700000001', '2 0012d68700000002', '3 0012d68700000005']
retr ['Subject: dots', '', '.leading dot', '..two', 'line3', '.', 'end'] 53
top ['Subject: three', '', 'b1']
quit +OK Logging out, messages deleted.
`
	if string(out) != want {
		t.Errorf("poplib said:\n%s\nwant:\n%s", out, want)
	}
	if got := st.snapshot("/mail/bob"); len(got) != 1 || got[0].uid != 2 || strings.Join(got[0].flags, " ") != `\Seen` {
		t.Errorf("INBOX after poplib: %+v", got)
	}
}
