package virtual

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"mailhorn/internal/deliver"
	"mailhorn/internal/deliver/delivertest"
	"mailhorn/internal/maps"
	"mailhorn/internal/store"
)

type failTable struct{}

func (failTable) Lookup(context.Context, string) (string, bool, error) {
	return "", false, errors.New("database down")
}
func (failTable) Close() error { return nil }

func open(t *testing.T, spec string) maps.Table {
	t.Helper()
	tb, err := maps.Open(spec)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func newAgent(t *testing.T) (*Agent, string) {
	base := t.TempDir()
	return &Agent{
		Mailboxes: open(t, "inline:{bob@example.test=example.test/bob/, carol@example.test=example.test/carol, @catch.test=catch/all/, dave@example.test=../../etc/}"),
		Base:      base,
		MinUID:    100,
		Writer:    store.NewWriter("mx.example.test"),
	}, base
}

func TestDeliver(t *testing.T) {
	a, base := newAgent(t)
	msg := "Subject: hi\n\nhello\n"
	res := a.Deliver(context.Background(), delivertest.Request(t, msg, "bob@example.test", "nobody@example.test", "carol@example.test", "x@catch.test", "dave@example.test"))
	want := []struct {
		st   deliver.Status
		dsn  string
		text string
	}{
		{deliver.Sent, "2.0.0", "delivered to maildir"},
		{deliver.Bounced, "5.1.1", `unknown user: "nobody@example.test"`},
		{deliver.Deferred, "4.3.0", "mbox delivery is not supported yet"},
		{deliver.Sent, "2.0.0", "delivered to maildir"},
		{deliver.Deferred, "4.3.5", "contains"},
	}
	for i, w := range want {
		if res[i].Index != i || res[i].Status != w.st || res[i].DSN != w.dsn || !strings.Contains(res[i].Text, w.text) || res[i].Relay != "virtual" {
			t.Errorf("result %d = %+v, want %v %s %q", i, res[i], w.st, w.dsn, w.text)
		}
	}
	ents, err := os.ReadDir(filepath.Join(base, "example.test/bob/new"))
	if err != nil || len(ents) != 1 {
		t.Fatalf("bob's new/: %v %v", ents, err)
	}
	got, _ := os.ReadFile(filepath.Join(base, "example.test/bob/new", ents[0].Name()))
	if string(got) != "Return-Path: <alice@remote.test>\nDelivered-To: bob@example.test\n"+msg {
		t.Errorf("delivered %q", got)
	}
	if ents, _ := os.ReadDir(filepath.Join(base, "catch/all/new")); len(ents) != 1 {
		t.Errorf("catch-all: %v", ents)
	}
}

func TestLoopAndLimits(t *testing.T) {
	a, _ := newAgent(t)
	res := a.Deliver(context.Background(), delivertest.Request(t, "Delivered-To: BOB@example.test\nSubject: x\n\nx\n", "bob@example.test"))
	if res[0].Status != deliver.Bounced || res[0].DSN != "5.4.6" || res[0].Text != "mail forwarding loop for bob@example.test" {
		t.Errorf("loop: %+v", res[0])
	}
	a.SizeLimit = 60
	res = a.Deliver(context.Background(), delivertest.Request(t, "Subject: x\n\n"+strings.Repeat("y", 100)+"\n", "bob@example.test"))
	if res[0].Status != deliver.Bounced || res[0].DSN != "5.2.2" {
		t.Errorf("limit: %+v", res[0])
	}
	a.SizeLimit = 0
	a.Mailboxes = failTable{}
	if res := a.Deliver(context.Background(), delivertest.Request(t, "x\n", "bob@example.test")); res[0].Status != deliver.Deferred || res[0].DSN != "4.3.0" {
		t.Errorf("table failure: %+v", res[0])
	}
}

func TestUIDs(t *testing.T) {
	a, _ := newAgent(t)
	a.UIDs, a.GIDs = open(t, "static:5"), open(t, "static:5")
	if res := a.Deliver(context.Background(), delivertest.Request(t, "x\n", "bob@example.test")); res[0].Status != deliver.Deferred || !strings.Contains(res[0].Text, "virtual_minimum_uid") {
		t.Errorf("low uid: %+v", res[0])
	}
	a.UIDs = open(t, "static:5000")
	a.GIDs = open(t, "static:5000")
	res := a.Deliver(context.Background(), delivertest.Request(t, "x\n", "bob@example.test"))
	if os.Geteuid() != 0 && res[0].Status != deliver.Sent {
		t.Errorf("uid 5000 as non-root: %+v", res[0])
	}
}

// Deliveries into the same Maildir run in parallel and each lands once.
func TestConcurrent(t *testing.T) {
	a, base := newAgent(t)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res := a.Deliver(context.Background(), delivertest.Request(t, "Subject: x\n\nx\n", "bob@example.test")); res[0].Status != deliver.Sent {
				t.Error(res[0])
			}
		}()
	}
	wg.Wait()
	if ents, _ := os.ReadDir(filepath.Join(base, "example.test/bob/new")); len(ents) != 50 {
		t.Errorf("%d messages, want 50", len(ents))
	}
}
