package e2e

import (
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// dnsServer is an authoritative DNS server on loopback (UDP and TCP on
// one port) serving fixed records, for mailhorn_dns_resolver. Names it
// has no record of at all get NXDOMAIN; names it knows, with no record of
// the asked type, an empty NOERROR answer (NODATA).
type dnsServer struct {
	addr    string
	records []dns.RR
}

// startDNS serves records, given in zone-file syntax ("b.test. MX 10
// mx.b.test."), until the test ends.
func startDNS(t *testing.T, records ...string) *dnsServer {
	t.Helper()
	d := &dnsServer{}
	for _, r := range records {
		rr, err := dns.NewRR(r)
		if err != nil {
			t.Fatalf("DNS record %q: %v", r, err)
		}
		rr.Header().Ttl = 60
		d.records = append(d.records, rr)
	}
	// The TCP port must equal the UDP one; another process may hold it
	// already, so try a few UDP ports.
	var pc net.PacketConn
	var l net.Listener
	for try := 0; ; try++ {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		d.addr = pc.LocalAddr().String()
		if l, err = net.Listen("tcp", d.addr); err == nil {
			break
		}
		pc.Close()
		if try == 10 {
			t.Fatalf("DNS over TCP on the UDP port: %v", err)
		}
	}
	udp := &dns.Server{PacketConn: pc, Handler: d}
	tcp := &dns.Server{Listener: l, Handler: d}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() {
		udp.Shutdown()
		tcp.Shutdown()
	})
	return d
}

// ServeDNS answers from the fixed records.
func (d *dnsServer) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	known := false
	for _, q := range req.Question {
		for _, rr := range d.records {
			h := rr.Header()
			if !strings.EqualFold(h.Name, q.Name) {
				continue
			}
			known = true
			if h.Rrtype == q.Qtype {
				m.Answer = append(m.Answer, rr)
			}
		}
	}
	if !known {
		m.Rcode = dns.RcodeNameError
	}
	w.WriteMsg(m)
}
