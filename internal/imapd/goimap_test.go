package imapd

import (
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// TestGoIMAPClient drives the server with go-imap's client, an
// independent implementation of the protocol, and checks what it decodes.
func TestGoIMAPClient(t *testing.T) {
	ts := startServer(t, nil)
	newClient := func(h *imapclient.UnilateralDataHandler) *imapclient.Client {
		c, err := imapclient.DialInsecure(ts.addr, &imapclient.Options{UnilateralDataHandler: h})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := c.Login("alice@example.test", "secret").Wait(); err != nil {
			t.Fatal(err)
		}
		return c
	}
	exists := make(chan uint32, 10)
	c := newClient(&imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				exists <- *d.NumMessages
			}
		},
	})
	if !c.Caps().Has(imap.CapIMAP4rev2) || !c.Caps().Has(imap.CapMove) {
		t.Errorf("caps %v", c.Caps())
	}
	for _, m := range []string{msg1, msg2} {
		m = strings.ReplaceAll(m, "\n", "\r\n")
		ap := c.Append("INBOX", int64(len(m)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagFlagged}})
		ap.Write([]byte(m))
		ap.Close()
		data, err := ap.Wait()
		if err != nil || data.UID == 0 {
			t.Fatalf("append: %v %+v", err, data)
		}
	}
	boxes, err := c.List("", "*", &imap.ListOptions{ReturnStatus: &imap.StatusOptions{NumMessages: true}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range boxes {
		names = append(names, b.Mailbox)
	}
	if strings.Join(names, ",") != "INBOX,Archive,Drafts,Junk,Sent,Trash" {
		t.Errorf("LIST: %v", names)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil || sel.NumMessages != 2 {
		t.Fatalf("select: %v %+v", err, sel)
	}
	section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Subject"}, Peek: true}
	part := &imap.FetchItemBodySection{Part: []int{1}, Peek: true}
	msgs, err := c.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{
		UID: true, Flags: true, Envelope: true, RFC822Size: true, InternalDate: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true}, BodySection: []*imap.FetchItemBodySection{section, part},
	}).Collect()
	if err != nil || len(msgs) != 2 {
		t.Fatalf("fetch: %v %d", err, len(msgs))
	}
	if e := msgs[0].Envelope; e.Subject != "Re: [list] Lunch plans" || len(e.From) != 1 || e.From[0].Addr() != "alice@example.test" || e.MessageID != "1@example.test" {
		t.Errorf("envelope %+v", e)
	}
	mp, ok := msgs[1].BodyStructure.(*imap.BodyStructureMultiPart)
	if !ok || mp.Subtype != "mixed" || len(mp.Children) != 2 || mp.Children[1].MediaType() != "application/octet-stream" {
		t.Errorf("bodystructure %#v", msgs[1].BodyStructure)
	}
	if got := string(msgs[1].FindBodySection(section)); got != "Subject: Quarterly report\r\n\r\n" {
		t.Errorf("header fields %q", got)
	}
	if got := string(msgs[1].FindBodySection(part)); !strings.HasPrefix(got, "See the attached") {
		t.Errorf("part 1 %q", got)
	}
	res, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "quarterly"}}}, nil).Wait()
	if err != nil || len(res.AllUIDs()) != 1 || res.AllUIDs()[0] != 2 {
		t.Errorf("search: %v %v", err, res)
	}
	if err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	cp, err := c.Copy(imap.SeqSetNum(1), "Archive").Wait()
	if err != nil || cp.DestUIDs.String() != "1" {
		t.Errorf("copy: %v %+v", err, cp)
	}
	mv, err := c.Move(imap.SeqSetNum(2), "Trash").Wait()
	if err != nil || mv.DestUIDs.String() != "1" {
		t.Errorf("move: %v %+v", err, mv)
	}
	st, err := c.Status("Trash", &imap.StatusOptions{NumMessages: true, Size: true}).Wait()
	if err != nil || *st.NumMessages != 1 || *st.Size == 0 {
		t.Errorf("status: %v %+v", err, st)
	}
	// IDLE sees a message another client appends.
	for len(exists) > 0 {
		<-exists
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	other := newClient(nil)
	m := strings.ReplaceAll(msg3, "\n", "\r\n")
	ap := other.Append("INBOX", int64(len(m)), nil)
	ap.Write([]byte(m))
	ap.Close()
	if _, err := ap.Wait(); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-exists:
		if n != 2 {
			t.Errorf("EXISTS %d", n)
		}
	case <-time.After(5 * time.Second):
		t.Error("IDLE saw nothing")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Logout().Wait(); err != nil {
		t.Fatal(err)
	}
}
