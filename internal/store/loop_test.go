package store

import (
	"strings"
	"testing"
)

func TestDeliveredTo(t *testing.T) {
	msg := "Return-Path: <a@b>\nDelivered-To: Bob@Example.test\nSubject: x\n\nDelivered-To: body@example.test\n"
	got, err := DeliveredTo(strings.NewReader(msg), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !got["bob@example.test"] || got["body@example.test"] || len(got) != 1 {
		t.Errorf("got %v", got)
	}
}
