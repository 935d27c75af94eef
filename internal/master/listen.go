package master

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
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

// listens reports whether master binds a socket for svc: inet smtpd
// services, and lmtpd services over inet or a UNIX-domain socket.
func listens(svc config.Service) bool {
	switch svc.Command {
	case "smtpd":
		return svc.Type == "inet"
	case "lmtpd":
		return svc.Type == "inet" || svc.Type == "unix"
	case "imapd", "pop3d":
		return svc.Type == "inet"
	}
	return false
}

// unixSocketPath is where a unix service's socket lives, as in Postfix:
// a plain name is $queue_directory/private/NAME (private column "y" or
// "-") or public/NAME ("n"); a name with a slash is a path, relative to
// queue_directory unless absolute.
func unixSocketPath(cfg *config.Config, svc config.Service) string {
	switch {
	case filepath.IsAbs(svc.Name):
		return filepath.Clean(svc.Name)
	case strings.Contains(svc.Name, "/"):
		return filepath.Join(cfg.Get("queue_directory"), svc.Name)
	case svc.Private:
		return filepath.Join(cfg.Get("queue_directory"), "private", svc.Name)
	}
	return filepath.Join(cfg.Get("queue_directory"), "public", svc.Name)
}

// listenUnix binds a unix service's socket, mode 0666 (as Postfix's
// sockets: the directory decides who reaches it). A socket left by an
// earlier run is replaced; anything else in the way is an error. Under
// queue_directory, a missing private/ is made mode 0700 and any other
// directory 0755; an absolute path's directory must exist.
func listenUnix(ctx context.Context, cfg *config.Config, svc config.Service) (net.Listener, error) {
	path := unixSocketPath(cfg, svc)
	if !filepath.IsAbs(svc.Name) {
		mode := os.FileMode(0o755)
		if rel, err := filepath.Rel(cfg.Get("queue_directory"), path); err == nil && strings.HasPrefix(rel, "private"+string(filepath.Separator)) {
			mode = 0o700
		}
		if err := os.MkdirAll(filepath.Dir(path), mode); err != nil {
			return nil, fmt.Errorf("socket directory: %w", err)
		}
	}
	if info, err := os.Lstat(path); err == nil {
		if info.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove old socket: %w", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	// The socket outlives this listener when a privileged parent hands it
	// to the mail system proper; the next start replaces it.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// listener is one bound socket of a listening service.
type listener struct {
	svc config.Service
	ln  net.Listener
}

// bind opens the sockets of every listening service (see listens). It
// runs before privileges are dropped, so ports below 1024 work.
func bind(ctx context.Context, cfg *config.Config, services []config.Service) ([]listener, error) {
	var out []listener
	var lc net.ListenConfig
	for _, svc := range services {
		if !listens(svc) {
			continue
		}
		if svc.Type == "unix" {
			ln, err := listenUnix(ctx, cfg, svc)
			if err != nil {
				closeListeners(out)
				return nil, fmt.Errorf("%s, line %d: service %s: %w", svc.File, svc.Line, svc.Name, err)
			}
			out = append(out, listener{svc: svc, ln: ln})
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
