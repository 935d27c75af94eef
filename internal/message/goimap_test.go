package message

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// TestGoIMAPReadsOurOutput serves our ENVELOPE and BODYSTRUCTURE to
// go-imap's client, an independent parser, and checks what it understood.
func TestGoIMAPReadsOurOutput(t *testing.T) {
	for _, file := range corpusFiles(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			content, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Parse(bytes.NewReader(content), int64(len(content)))
			if err != nil {
				t.Fatal(err)
			}
			msg := fetchThroughGoIMAP(t, p)
			if msg.Envelope == nil || msg.BodyStructure == nil {
				t.Fatalf("go-imap got envelope %v, bodystructure %v", msg.Envelope, msg.BodyStructure)
			}
			if subj, _ := p.Header(bytes.NewReader(content), "Subject"); len(subj) > 0 && msg.Envelope.Subject == "" && strings.TrimSpace(subj[0]) != "" {
				t.Errorf("go-imap read no subject, header has %q", subj[0])
			}
			var leaves int
			msg.BodyStructure.Walk(func(path []int, bs imap.BodyStructure) bool {
				if sp, ok := bs.(*imap.BodyStructureSinglePart); ok {
					leaves++
					if strings.EqualFold(sp.Type, "message") && (strings.EqualFold(sp.Subtype, "rfc822") || strings.EqualFold(sp.Subtype, "global")) {
						m := sp.MessageRFC822
						if m == nil || m.Envelope == nil || m.BodyStructure == nil {
							t.Errorf("part %v: enclosed message not read: %+v", path, m)
						}
					}
				}
				return true
			})
			if want := countLeaves(p); leaves != want {
				t.Errorf("go-imap saw %d single parts, we have %d", leaves, want)
			}
			if got, want := strings.ToLower(msg.BodyStructure.MediaType()), p.Type+"/"+p.Subtype; got != want && p.impl.ctype != "" {
				t.Errorf("media type %q, want %q", got, want)
			}
		})
	}
}

// countLeaves counts single parts as go-imap's Walk does: an enclosed
// message is one (its inside is checked apart).
func countLeaves(p *Part) int {
	switch {
	case p.Type == "multipart" && len(p.Parts) == 0:
		return 1
	case p.Type == "multipart":
		n := 0
		for _, c := range p.Parts {
			n += countLeaves(c)
		}
		return n
	}
	return 1
}

func fetchThroughGoIMAP(t *testing.T, p *Part) *imapclient.FetchMessageBuffer {
	t.Helper()
	client, server := net.Pipe()
	done := make(chan error, 1)
	go func() {
		defer server.Close()
		fmt.Fprintf(server, "* OK [CAPABILITY IMAP4rev1] test\r\n")
		line, err := bufio.NewReader(server).ReadString('\n')
		if err != nil {
			done <- err
			return
		}
		tag, _, _ := strings.Cut(line, " ")
		var b []byte
		b = append(b, "* 1 FETCH (ENVELOPE "...)
		b = append(b, p.Envelope()...)
		b = append(b, " BODYSTRUCTURE "...)
		b = append(b, p.BodyStructure(true)...)
		b = append(b, ")\r\n"+tag+" OK done\r\n"...)
		_, err = server.Write(b)
		done <- err
	}()
	c := imapclient.New(client, nil)
	defer c.Close()
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{
		Envelope:      true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
	}).Collect()
	if err != nil {
		t.Fatalf("go-imap could not read our answer: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 {
		t.Fatalf("go-imap got %d messages", len(msgs))
	}
	return msgs[0]
}
