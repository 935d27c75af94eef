package pipe

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailhorn/internal/deliver"
	"mailhorn/internal/deliver/delivertest"
	"mailhorn/internal/privsep"
)

func TestParseArgs(t *testing.T) {
	a, err := ParseArgs(strings.Fields(`flags=DRhu. user=vmail:mail size=100 eol=\r\n directory=/tmp null_sender= argv=/usr/bin/maildrop -d ${recipient} $$x`))
	if err != nil {
		t.Fatal(err)
	}
	want := &Args{Flags: Flags{DeliveredTo: true, ReturnPath: true, FoldHost: true, FoldUser: true, DotStuff: true},
		User: "vmail", Group: "mail", Size: 100, EOL: "\r\n", Directory: "/tmp", NullSender: "",
		Argv: []string{"/usr/bin/maildrop", "-d", "${recipient}", "$$x"}}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("got %+v\nwant %+v", a, want)
	}
	for _, tc := range []struct{ args, err string }{
		{"user=x", "missing argv="},
		{"argv=/bin/cat", "missing user="},
		{"flags=Z user=x argv=/bin/cat", "unknown flag"},
		{"user=x bogus=1 argv=/bin/cat", "unknown attribute name: bogus"},
		{"user=x argv=cat", "not an absolute path"},
		{"user=x argv=/bin/cat ${nosuch}", "unknown macro ${nosuch}"},
		{"user=x argv=/bin/cat ${recipient", "unbalanced"},
		{"user=x argv=/bin/cat $", "without a macro name"},
		{"user=x size=-1 argv=/bin/cat", "not a size"},
		{`user=x eol=\q argv=/bin/cat`, "unknown escape"},
		{"user=x chroot=/x argv=/bin/cat", "chroot= is not supported"},
		{"user=x directory=rel argv=/bin/cat", "not an absolute path"},
		{"user=x noequals argv=/bin/cat", "bad attribute"},
	} {
		_, err := ParseArgs(strings.Fields(tc.args))
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v, want %q", tc.args, err, tc.err)
		}
	}
	if e, _ := unescape(`a\101\t\\`); e != "aA\t\\" {
		t.Errorf("unescape: %q", e)
	}
}

// selfRunner runs commands in-process as ourselves and records requests
// (identity switching is privsep's business, tested there).
type selfRunner struct{ reqs []privsep.Request }

func (r *selfRunner) Run(ctx context.Context, req *privsep.Request) (privsep.Result, error) {
	r.reqs = append(r.reqs, *req)
	c := *req
	c.As.UID, c.As.GID = os.Geteuid(), os.Getegid()
	var in privsep.InProcess
	return in.Run(ctx, &c)
}

func agent(t *testing.T, args string) (*Agent, *selfRunner) {
	t.Helper()
	pa, err := ParseArgs(strings.Fields(args))
	if err != nil {
		t.Fatal(err)
	}
	r := &selfRunner{}
	return &Agent{Service: "filter", Args: pa, Runner: r, Delimiters: "+", MailOwner: 12345,
		TimeLimit: 5 * time.Second,
		Lookup: func(name string) (privsep.Account, error) {
			return privsep.Account{UID: 4242, GID: 4343, Home: "/nonexistent"}, nil
		},
		LookupGroup: func(string) (int, error) { return 99, nil },
		Now:         func() time.Time { return time.Date(2024, 3, 5, 7, 8, 9, 0, time.Local) },
	}, r
}

const msg = "Subject: hi\n\nFrom me\n.dot\n"

func TestDeliver(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	a, r := agent(t, "flags=FRX.>B user=vmail argv=/bin/sh -c {cat>"+out+";printf '%s|' \"$$@\" >>"+out+"} sh ${sender} ${nexthop} ${size} ${queue_id} -- ${recipient} ${user}/${extension}/${mailbox}/${domain}")
	a.Args.Argv = fixBraces(a.Args.Argv)
	req := delivertest.Request(t, msg, "Bob+Box@Example.Test", "carol@example.test")
	req.Nexthop = "Example.Test"
	res := a.Deliver(context.Background(), req)
	if len(res) != 2 || res[0].Status != deliver.Sent || res[1].Status != deliver.Sent || res[0].Text != "delivered via filter service" || res[0].Relay != "filter" {
		t.Fatalf("results %+v", res)
	}
	got, _ := os.ReadFile(out)
	want := "From alice@remote.test  Tue Mar  5 07:08:09 2024\nReturn-Path: <alice@remote.test>\nSubject: hi\n\n>From me\n..dot\n\n" +
		"alice@remote.test|Example.Test|" + strconv.Itoa(len(msg)) + "|0123456789ABC001|--|Bob+Box@Example.Test|carol@example.test|Bob/Box/Bob+Box/Example.Test|carol//carol/example.test|"
	if string(got) != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if id := r.reqs[0].As; id.User != "vmail" || id.UID != 4242 || id.GID != 4343 || r.reqs[0].Source != privsep.SourcePipe {
		t.Errorf("identity %+v", r.reqs[0])
	}

	// h and u fold; q quotes; the null sender becomes null_sender.
	a, _ = agent(t, "flags=hqu user=vmail:mail null_sender=nobody@x argv=/bin/sh -c {printf '%s|' \"$$@\" >"+out+"} sh ${sender} ${recipient} ${nexthop}")
	a.Args.Argv = fixBraces(a.Args.Argv)
	req = delivertest.Request(t, msg, "A B@Example.Test") // internal form: unquoted
	req.Sender, req.Nexthop = "", "MX.Example"
	a.Deliver(context.Background(), req)
	if got, _ := os.ReadFile(out); string(got) != `nobody@x|"a b"@example.test|mx.example|` {
		t.Errorf("folded: %q", got)
	}
}

// fixBraces undoes the splitting of our test command at white space: the
// part between { and } is one argument, as master.cf's braces make it.
func fixBraces(argv []string) []string {
	var out []string
	for i := 0; i < len(argv); i++ {
		if strings.HasPrefix(argv[i], "{") {
			j := i
			for !strings.HasSuffix(argv[j], "}") {
				j++
			}
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(strings.Join(argv[i:j+1], " "), "{"), "}"))
			i = j
			continue
		}
		out = append(out, argv[i])
	}
	return out
}

func TestDeliverFailures(t *testing.T) {
	a, _ := agent(t, "flags=D user=vmail argv=/bin/cat")
	req := delivertest.Request(t, msg, "a@x", "b@x")
	if res := a.Deliver(context.Background(), req); res[0].Status != deliver.Deferred || res[0].DSN != "4.3.5" {
		t.Errorf("D with 2 recipients: %+v", res)
	}
	req = delivertest.Request(t, "Delivered-To: A@x\n"+msg, "a@x")
	if res := a.Deliver(context.Background(), req); res[0].Status != deliver.Bounced || res[0].DSN != "5.4.6" {
		t.Errorf("loop: %+v", res)
	}
	a, _ = agent(t, "size=5 user=vmail argv=/bin/cat")
	if res := a.Deliver(context.Background(), delivertest.Request(t, msg, "a@x")); res[0].Status != deliver.Bounced || res[0].DSN != "5.2.3" {
		t.Errorf("size: %+v", res)
	}
	a, _ = agent(t, "user=vmail argv=/bin/sh -c {exit 75}")
	a.Args.Argv = fixBraces(a.Args.Argv)
	if res := a.Deliver(context.Background(), delivertest.Request(t, msg, "a@x")); res[0].Status != deliver.Deferred || res[0].DSN != "4.3.0" {
		t.Errorf("exit 75: %+v", res)
	}
	a, _ = agent(t, "user=vmail argv=/bin/sleep 30")
	a.TimeLimit = 200 * time.Millisecond
	if res := a.Deliver(context.Background(), delivertest.Request(t, msg, "a@x")); res[0].Status != deliver.Deferred || !strings.Contains(res[0].Text, "time limit") {
		t.Errorf("time limit: %+v", res)
	}
	for _, acct := range []privsep.Account{{UID: 0, GID: 0}, {UID: 12345, GID: 1}} {
		a, _ = agent(t, "user=vmail argv=/bin/cat")
		a.Lookup = func(string) (privsep.Account, error) { return acct, nil }
		if res := a.Deliver(context.Background(), delivertest.Request(t, msg, "a@x")); res[0].Status != deliver.Deferred || res[0].DSN != "4.3.5" {
			t.Errorf("uid %d: %+v", acct.UID, res)
		}
	}
}
