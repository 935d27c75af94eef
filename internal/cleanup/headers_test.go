package cleanup

import (
	"context"
	"errors"
	"strings"
	"testing"

	"mailhorn/internal/queue"
)

const testDate = "Tue,  5 Mar 2024 14:07:09 +0100 (CET)"

func TestMissingHeaders(t *testing.T) {
	msgid := "<20240305130709.{ID}@mx.example.test>"
	tests := []struct {
		name     string
		local    bool
		sender   string
		fullName string
		opt      func(*Options)
		in, want string
		log      []string // substrings expected in the log, {ID} replaced
	}{
		{name: "remote: nothing added", in: "Subject: s\n\nb\n", want: "Subject: s\n\nb\n",
			log: []string{"{ID}: message-id=<>"}},
		{name: "local: all added", local: true, in: "Subject: s\n\nb\n",
			want: "Subject: s\nMessage-Id: " + msgid + "\nDate: " + testDate + "\nFrom: alice@example.org\n\nb\n",
			log:  []string{"{ID}: message-id=" + msgid}},
		{name: "local, no body", local: true, in: "Subject: s\n",
			want: "Subject: s\nMessage-Id: " + msgid + "\nDate: " + testDate + "\nFrom: alice@example.org\n"},
		{name: "local, empty content", local: true, in: "",
			want: "Message-Id: " + msgid + "\nDate: " + testDate + "\nFrom: alice@example.org\n"},
		{name: "local, no headers", local: true, in: "just text\n",
			want: "Message-Id: " + msgid + "\nDate: " + testDate + "\nFrom: alice@example.org\n\njust text\n"},
		{name: "full name", local: true, fullName: "Alice  Q.\tSmith", in: "\nb\n",
			want: "Message-Id: " + msgid + "\nDate: " + testDate + "\nFrom: \"Alice  Q.\tSmith\" <alice@example.org>\n\nb\n"},
		{name: "plain full name", local: true, fullName: " Alice \r\n Smith ", in: "\nb\n",
			want: "Message-Id: " + msgid + "\nDate: " + testDate + "\nFrom: Alice Smith <alice@example.org>\n\nb\n"},
		{name: "quoted full name", local: true, fullName: `Al "the pal" \ Smith`, in: "\nb\n",
			want: "Message-Id: " + msgid + "\nDate: " + testDate + "\nFrom: \"Al \\\"the pal\\\" \\\\ Smith\" <alice@example.org>\n\nb\n"},
		{name: "quoted local part", local: true, sender: "a b@example.org", in: "\nb\n",
			want: "Message-Id: " + msgid + "\nDate: " + testDate + "\nFrom: \"a b\"@example.org\n\nb\n"},
		{name: "null sender", local: true, sender: "<>", fullName: "Ignored", in: "\nb\n",
			want: "Message-Id: " + msgid + "\nDate: " + testDate + "\nFrom: MAILER-DAEMON\n\nb\n"},
		{name: "present headers kept", local: true,
			in:   "message-ID: <x@y>\nDATE: Mon, 4 Mar 2024 10:00:00 +0000\nfrom: bob@example.com\n\nb\n",
			want: "message-ID: <x@y>\nDATE: Mon, 4 Mar 2024 10:00:00 +0000\nfrom: bob@example.com\n\nb\n",
			log:  []string{"{ID}: message-id=<x@y>"}},
		{name: "resent", local: true,
			in:   "Message-Id: <x@y>\nResent-From: carol@example.com\n\nb\n",
			want: "Message-Id: <x@y>\nResent-From: carol@example.com\nResent-Message-Id: " + msgid + "\nResent-Date: " + testDate + "\n\nb\n",
			log:  []string{"{ID}: message-id=<x@y>", "{ID}: resent-message-id=" + msgid}},
		{name: "resent without message-id", local: true,
			in:   "Resent-To: carol@example.com\n\nb\n",
			want: "Resent-To: carol@example.com\nResent-Message-Id: " + msgid + "\nResent-Date: " + testDate + "\nResent-From: alice@example.org\n\nb\n",
			log:  []string{"{ID}: resent-message-id=" + msgid, "{ID}: message-id=<>"}},
		{name: "always_add_missing_headers", opt: func(o *Options) { o.AlwaysAddMissingHeaders = true },
			in:   "Subject: s\n\nb\n",
			want: "Subject: s\nMessage-Id: " + msgid + "\nDate: " + testDate + "\nFrom: alice@example.org\n\nb\n"},
		{name: "remote_header_rewrite_domain", opt: func(o *Options) { o.RemoteHeaderRewriteDomain = "remote.test" },
			in:   "Subject: s\n\nb\n",
			want: "Subject: s\nMessage-Id: " + msgid + "\nDate: " + testDate + "\nFrom: alice@example.org\n\nb\n"},
		{name: "undisclosed recipients", local: true, opt: func(o *Options) { o.UndisclosedRecipientsHeader = "To: undisclosed-recipients:;" },
			in:   "From: a@b\nDate: x\nMessage-Id: <m@x>\n\nb\n",
			want: "From: a@b\nDate: x\nMessage-Id: <m@x>\nTo: undisclosed-recipients:;\n\nb\n"},
		{name: "undisclosed recipients, cc present", local: true, opt: func(o *Options) { o.UndisclosedRecipientsHeader = "To: undisclosed-recipients:;" },
			in:   "From: a@b\nDate: x\nMessage-Id: <m@x>\nCc: c@d\n\nb\n",
			want: "From: a@b\nDate: x\nMessage-Id: <m@x>\nCc: c@d\n\nb\n"},
		{name: "undisclosed recipients, bcc only", local: true, opt: func(o *Options) { o.UndisclosedRecipientsHeader = "To: undisclosed-recipients:;" },
			in:   "From: a@b\nDate: x\nMessage-Id: <m@x>\nBcc: c@d\n\nb\n",
			want: "From: a@b\nDate: x\nMessage-Id: <m@x>\nTo: undisclosed-recipients:;\n\nb\n"},
		{name: "undisclosed recipients, remote", opt: func(o *Options) { o.UndisclosedRecipientsHeader = "To: undisclosed-recipients:;" },
			in: "From: a@b\n\nb\n", want: "From: a@b\n\nb\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := DefaultOptions()
			if tt.opt != nil {
				tt.opt(&opt)
			}
			e := newEnv(t, nil, opt)
			m := simpleMsg("bob@example.com")
			switch tt.sender {
			case "":
			case "<>":
				m.Sender = ""
			default:
				m.Sender = tt.sender
			}
			m.Local, m.FullName = tt.local, tt.fullName
			id, err := e.c.Submit(context.Background(), m, strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			_, got := e.read(id)
			want := strings.ReplaceAll(tt.want, "{ID}", id)
			if got != want {
				t.Errorf("content:\n got %q\nwant %q", got, want)
			}
			for _, l := range tt.log {
				l = strings.ReplaceAll(l, "{ID}", id)
				if !strings.Contains(e.log.String(), "mailhorn/cleanup["+pidString()+"]: "+l+"\n") {
					t.Errorf("log lacks %q:\n%s", l, e.log)
				}
			}
		})
	}
}

func TestHeaderRewrite(t *testing.T) {
	rw := &fakeRewriter{
		canonical: map[string]string{"old@example.org": "new@example.org"},
		header:    map[string]string{"bob@example.com": "robert@example.com"},
	}
	tests := []struct {
		name  string
		local bool
		opt   func(*Options)
		in    string
		want  string
	}{
		{name: "local: complete and map", local: true,
			in:   "From: Alice Smith <alice> (work)\nTo: bob@example.com, \"Carol, C.\" <carol@example.net>,\n\told@example.org\nSubject: alice\n\nFrom: alice\n",
			want: "From: Alice Smith <alice@local.test> (work)\nTo: robert@example.com, \"Carol, C.\" <carol@example.net>,\n\tnew@example.org\nSubject: alice\n\nFrom: alice\n"},
		{name: "unchanged kept byte for byte", local: true,
			in:   "To:   carol@example.net  (the boss) ,  \"x\" <dave@example.net>\n\nb\n",
			want: "To:   carol@example.net  (the boss) ,  \"x\" <dave@example.net>\n\nb\n"},
		{name: "group", local: true,
			in:   "To: friends: bob@example.com, eve;\n\nb\n",
			want: "To: friends: robert@example.com, eve@local.test;\n\nb\n"},
		{name: "remote: not rewritten",
			in:   "From: alice\nTo: bob@example.com\n\nb\n",
			want: "From: alice\nTo: bob@example.com\n\nb\n"},
		{name: "remote with rewrite domain", opt: func(o *Options) { o.RemoteHeaderRewriteDomain = "remote.test" },
			in:   "From: alice\nResent-To: bob@example.com\nDate: d\nMessage-Id: <i@d>\nResent-Date: d\nResent-Message-Id: <j@d>\n\nb\n",
			want: "From: alice@remote.test\nResent-To: robert@example.com\nDate: d\nMessage-Id: <i@d>\nResent-Date: d\nResent-Message-Id: <j@d>\nResent-From: alice@example.org\n\nb\n"},
		{name: "unparseable kept", local: true, in: "From: <<<\nDate: d\nMessage-Id: <i@d>\n\nb\n", want: "From: <<<\nDate: d\nMessage-Id: <i@d>\n\nb\n"},
		{name: "other headers untouched", local: true, in: "Subject: bob@example.com\nDate: d\nMessage-Id: <i@d>\nFrom: x@y\n\n", want: "Subject: bob@example.com\nDate: d\nMessage-Id: <i@d>\nFrom: x@y\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := DefaultOptions()
			if tt.opt != nil {
				tt.opt(&opt)
			}
			e := newEnv(t, rw, opt)
			m := simpleMsg("bob@example.com")
			m.Local = tt.local
			id, err := e.c.Submit(context.Background(), m, strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			_, got := e.read(id)
			if got = withoutAdded(got); got != tt.want {
				t.Errorf("content:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestHeaderRewriteFailure(t *testing.T) {
	rw := &fakeRewriter{fail: map[string]error{"broken@example.org": errDisk}}
	e := newEnv(t, rw, DefaultOptions())
	m := simpleMsg("bob@example.com")
	m.Local = true
	_, err := e.c.Submit(context.Background(), m, strings.NewReader("To: broken@example.org\n\nb\n"))
	var ce *Error
	if !errors.As(err, &ce) || ce.Code != 451 || ce.DSN != "4.3.0" || !errors.Is(err, errDisk) {
		t.Fatalf("err = %v, want 451 4.3.0 wrapping the table error", err)
	}
	if f := e.files(); len(f) != 0 {
		t.Errorf("files left behind: %v", f)
	}
}

func TestHopCount(t *testing.T) {
	rcvd := func(n int) string {
		return strings.Repeat("Received: from a by b\n\tid x; Tue, 5 Mar 2024\n", n)
	}
	for _, tt := range []struct {
		name       string
		content    string
		ours       bool
		wantBounce bool
	}{
		{"below", rcvd(3), true, false},
		{"at the limit with ours", rcvd(4), true, true},
		{"at the limit without ours", rcvd(4), false, false},
		{"above", rcvd(9), false, true},
		{"case-insensitive", strings.Repeat("RECEIVED: x\n", 5), false, true},
		{"body lines do not count", "Subject: s\n\n" + rcvd(10), true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opt := DefaultOptions()
			opt.HopcountLimit = 5
			e := newEnv(t, nil, opt)
			m := simpleMsg("bob@example.com")
			m.Attrs = []queue.Attr{{Name: queue.AttrProtocol, Value: "ESMTP"}}
			if tt.ours {
				m.Received = "Received: from c by mx.example.test"
			}
			id, err := e.c.Submit(context.Background(), m, strings.NewReader(tt.content+"\nbody\n"))
			if err != nil {
				t.Fatal(err)
			}
			f, _ := e.read(id)
			got := f.Attr(BounceAttr)
			if tt.wantBounce && got != "5.4.6 Too many hops" || !tt.wantBounce && got != "" {
				t.Errorf("bounce attribute = %q, want bounce %v", got, tt.wantBounce)
			}
			if f.Attr(queue.AttrProtocol) != "ESMTP" {
				t.Errorf("attributes = %v", f.Attrs)
			}
			if len(m.Attrs) != 1 {
				t.Errorf("caller's Attrs changed: %v", m.Attrs)
			}
		})
	}
}

func TestHeaderName(t *testing.T) {
	for in, want := range map[string]string{
		"Subject: x":       "Subject",
		"Subject:x":        "Subject",
		"Subject \t: x":    "Subject",
		"X-Foo-Bar: x":     "X-Foo-Bar",
		": x":              "",
		"Sub ject: x":      "",
		"Subject":          "",
		"From alice":       "",
		"Sub\x7fject: x":   "",
		"Süb: x":           "",
		" Subject: x":      "",
		"Subject x: y":     "",
		"!#$%&'*+-/=?^_`{": "",
		"!#$%&'*+-/=?^_{:": "!#$%&'*+-/=?^_{",
	} {
		if got := HeaderName([]byte(in)); got != want {
			t.Errorf("HeaderName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHopCountLargeHeaderBlock: the hop count is decided when the queue
// file is created, once the held header block passes header_size_limit;
// Received: headers after that point are passed on but not counted.
func TestHopCountLargeHeaderBlock(t *testing.T) {
	filler := strings.Repeat("X-Filler: 0123456789012345678901234567890123456789\n", 10)
	for _, tt := range []struct {
		name       string
		in         string
		wantBounce bool
	}{
		{"received on top", strings.Repeat("Received: x\n", 3) + filler + "\nb\n", true},
		{"received below the limit", filler + strings.Repeat("Received: x\n", 3) + "\nb\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opt := DefaultOptions()
			opt.HopcountLimit = 3
			opt.HeaderSizeLimit = 200
			e := newEnv(t, nil, opt)
			id, err := e.c.Submit(context.Background(), simpleMsg("bob@example.com"), strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			f, content := e.read(id)
			if got := f.Attr(BounceAttr) != ""; got != tt.wantBounce {
				t.Errorf("bounce = %v, want %v", got, tt.wantBounce)
			}
			if content != tt.in {
				t.Errorf("content:\n got %q\nwant %q", content, tt.in)
			}
		})
	}
}
