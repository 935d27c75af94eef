package master

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"mailhorn/internal/config"
)

// wellKnownPorts backs net.LookupPort on machines without /etc/services.
var wellKnownPorts = map[string]int{"smtp": 25, "submission": 587, "submissions": 465, "smtps": 465, "lmtp": 24}

func servicePort(name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n > 0 && n < 65536 {
		return n, nil
	}
	if n, err := net.LookupPort("tcp", name); err == nil {
		return n, nil
	}
	if n, ok := wellKnownPorts[name]; ok {
		return n, nil
	}
	return 0, fmt.Errorf("unknown service port %q", name)
}

// listenAddrs is where an inet service listens: its own host if master.cf
// names one, else every address of inet_interfaces.
func listenAddrs(cfg *config.Config, svc config.Service) ([]string, error) {
	port, err := servicePort(svc.Port)
	if err != nil {
		return nil, err
	}
	p := strconv.Itoa(port)
	if svc.Host != "" {
		return []string{net.JoinHostPort(strings.Trim(svc.Host, "[]"), p)}, nil
	}
	var out []string
	for _, iface := range cfg.List("inet_interfaces") {
		switch strings.ToLower(iface) {
		case "all":
			return []string{":" + p}, nil
		case "loopback-only":
			out = append(out, "127.0.0.1:"+p, "[::1]:"+p)
		default:
			out = append(out, net.JoinHostPort(strings.Trim(iface, "[]"), p))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("inet_interfaces is empty")
	}
	return out, nil
}

// listener is one bound socket of an inet service.
type listener struct {
	svc config.Service
	ln  net.Listener
}

// bind opens the sockets of every inet smtpd service. It runs before
// privileges are dropped, so ports below 1024 work.
func bind(ctx context.Context, cfg *config.Config, services []config.Service) ([]listener, error) {
	var out []listener
	var lc net.ListenConfig
	for _, svc := range services {
		if svc.Type != "inet" || svc.Command != "smtpd" {
			continue
		}
		addrs, err := listenAddrs(cfg, svc)
		if err != nil {
			closeListeners(out)
			return nil, fmt.Errorf("%s, line %d: service %s: %w", svc.File, svc.Line, svc.Name, err)
		}
		for _, a := range addrs {
			ln, err := lc.Listen(ctx, "tcp", a)
			if err != nil && strings.HasPrefix(a, "[::1]") {
				continue // no IPv6 on this host: loopback-only means IPv4 then
			}
			if err != nil {
				closeListeners(out)
				return nil, fmt.Errorf("service %s: %w", svc.Name, err)
			}
			out = append(out, listener{svc: svc, ln: ln})
		}
	}
	return out, nil
}

func closeListeners(ls []listener) {
	for _, l := range ls {
		l.ln.Close()
	}
}
