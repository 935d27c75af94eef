package control

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	id := "0123456789ABC001"
	tests := []struct {
		line string
		want Request
		err  string // substring; "" = valid
	}{
		{`{"op":"list"}`, Request{Op: OpList}, ""},
		{`{"op":"flush"}`, Request{Op: OpFlush}, ""},
		{`{"op":"flush","site":"example.com"}`, Request{Op: OpFlush, Site: "example.com"}, ""},
		{`{"op":"flush","site":"[192.0.2.1]"}`, Request{Op: OpFlush, Site: "[192.0.2.1]"}, ""},
		{`{"op":"deliver","id":"` + id + `"}`, Request{Op: OpDeliver, ID: id}, ""},
		{`{"op":"delete","id":"` + id + `"}`, Request{Op: OpDelete, ID: id}, ""},
		{`{"op":"delete","all":true,"queues":["deferred"]}`, Request{Op: OpDelete, All: true, Queues: []string{"deferred"}}, ""},
		{`{"op":"hold","id":"` + id + `","queues":["incoming","active"]}`, Request{Op: OpHold, ID: id, Queues: []string{"incoming", "active"}}, ""},
		{`{"op":"release","all":true}`, Request{Op: OpRelease, All: true}, ""},
		{`{"op":"requeue","id":"` + id + `"}`, Request{Op: OpRequeue, ID: id}, ""},
		{`{"op":"purge"}`, Request{Op: OpPurge}, ""},
		{` {"op":"list"} `, Request{Op: OpList}, ""},

		{``, Request{}, "bad request"},
		{`{}`, Request{}, "no op"},
		{`{"op":"explode"}`, Request{}, "unknown op"},
		{`{"op":"list","extra":1}`, Request{}, "unknown field"},
		{`{"op":"list"}{"op":"list"}`, Request{}, "trailing"},
		{`{"op":"list"} x`, Request{}, "bad request"},
		{`[1,2]`, Request{}, "bad request"},
		{`{"op":"list","id":"` + id + `"}`, Request{}, "no arguments"},
		{`{"op":"purge","all":true}`, Request{}, "no arguments"},
		{`{"op":"delete"}`, Request{}, "queue ID or all"},
		{`{"op":"delete","id":"` + id + `","all":true}`, Request{}, "queue ID or all"},
		{`{"op":"delete","id":"../../etc/passwd"}`, Request{}, "invalid queue ID"},
		{`{"op":"delete","id":"0123456789abc001"}`, Request{}, "invalid queue ID"},
		{`{"op":"delete","all":true,"queues":["maildrop"]}`, Request{}, "unknown queue"},
		{`{"op":"delete","all":true,"queues":["../x"]}`, Request{}, "unknown queue"},
		{`{"op":"delete","all":true,"queues":["hold","hold","hold","hold","hold"]}`, Request{}, "queues named"},
		{`{"op":"delete","id":"` + id + `","site":"x"}`, Request{}, "no site"},
		{`{"op":"deliver","all":true}`, Request{}, "one queue ID"},
		{`{"op":"flush","site":"a b"}`, Request{}, "site with byte"},
		{`{"op":"flush","site":"` + strings.Repeat("a", 256) + `"}`, Request{}, "site of 256"},
		{`{"op":"flush","id":"` + id + `"}`, Request{}, "only a site"},
		{`{"op":"list","pad":"` + strings.Repeat("a", MaxRequest) + `"}`, Request{}, "at most"},
	}
	for _, tt := range tests {
		got, err := ParseRequest([]byte(tt.line))
		if tt.err == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.line, err)
			} else if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s: got %+v, want %+v", tt.line, got, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: err %v, want one with %q", tt.line, err, tt.err)
		}
	}
}

func TestAccess(t *testing.T) {
	for _, op := range []Op{OpList, OpFlush, OpDeliver} {
		if !Public.Allows(op) || !Private.Allows(op) {
			t.Errorf("%s not allowed everywhere", op)
		}
	}
	for _, op := range []Op{OpDelete, OpHold, OpRelease, OpRequeue, OpPurge} {
		if Public.Allows(op) || !Private.Allows(op) {
			t.Errorf("%s: public %v private %v", op, Public.Allows(op), Private.Allows(op))
		}
	}
}

// FuzzParseRequest: no input panics, and what parses survives a round
// trip through the client's encoding.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"op":"list"}`, `{"op":"flush","site":"example.com"}`,
		`{"op":"delete","all":true,"queues":["deferred","hold"]}`,
		`{"op":"hold","id":"0123456789ABC001"}`, `{"op":"purge"}`, `{"op":"x"}`, `{`, `null`,
		`{"op":"requeue","id":"0123456789ABC001","queues":["active"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := ParseRequest(line)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error without ErrBadRequest: %v", err)
			}
			return
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := ParseRequest(b)
		if err != nil {
			t.Fatalf("%s re-encoded as %s: %v", line, b, err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip: %+v != %+v", r, r2)
		}
	})
}
