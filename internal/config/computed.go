package config

import (
	"net"
	"os"
	"strconv"
	"strings"
)

// host is what the computed defaults need from the operating system; tests
// supply their own.
type host struct {
	hostname func() (string, error)
	addrs    func() ([]net.Addr, error)
}

func osHost() host { return host{hostname: os.Hostname, addrs: net.InterfaceAddrs} }

// computedDefault returns the default of the parameters Postfix computes at
// run time rather than declares: myhostname, mydomain and mynetworks. get
// returns another parameter's expanded value.
func (h host) computedDefault(name string, get func(string) string) (string, bool) {
	switch name {
	case "myhostname":
		return h.myhostname(), true
	case "mydomain":
		return domainOf(get("myhostname")), true
	case "mynetworks":
		return h.mynetworks(get("mynetworks_style"), get("inet_protocols")), true
	}
	return "", false
}

// myhostname is the OS host name, made fully qualified with ".localdomain"
// when it has no dot, as Postfix does.
func (h host) myhostname() string {
	name := "localhost"
	if h.hostname != nil {
		if n, err := h.hostname(); err == nil && n != "" {
			name = n
		}
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if !strings.Contains(name, ".") {
		name += ".localdomain"
	}
	return name
}

// domainOf is Postfix's mydomain default: myhostname minus its first label,
// or "localdomain" when there is no dot.
func domainOf(hostname string) string {
	if _, rest, ok := strings.Cut(hostname, "."); ok && rest != "" {
		return rest
	}
	return "localdomain"
}

// mynetworks lists the host's interface networks per mynetworks_style:
// host (each address), subnet (each address's subnet) or class (the IPv4
// class A/B/C network; subnet for IPv6). IPv4 comes first, as in Postfix.
func (h host) mynetworks(style, protocols string) string {
	if h.addrs == nil {
		return ""
	}
	addrs, err := h.addrs()
	if err != nil {
		return ""
	}
	want4, want6 := true, true
	if p := splitList(protocols); len(p) > 0 && !contains(p, "all") {
		want4, want6 = contains(p, "ipv4"), contains(p, "ipv6")
	}
	var v4, v6 []string
	seen := map[string]bool{}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, mask := ipn.IP, ipn.Mask
		is4 := ip.To4() != nil
		if is4 {
			ip = ip.To4()
			if len(mask) == net.IPv6len {
				mask = mask[12:]
			}
		}
		bits := len(ip) * 8
		switch style {
		case "host":
			mask = net.CIDRMask(bits, bits)
		case "class":
			if is4 {
				switch {
				case ip[0] < 128:
					mask = net.CIDRMask(8, 32)
				case ip[0] < 192:
					mask = net.CIDRMask(16, 32)
				case ip[0] < 224:
					mask = net.CIDRMask(24, 32)
				}
			}
		}
		ones, _ := mask.Size()
		netw := (&net.IPNet{IP: ip.Mask(mask), Mask: mask}).IP.String()
		var s string
		if is4 {
			s = netw + "/" + strconv.Itoa(ones)
		} else {
			s = "[" + netw + "]/" + strconv.Itoa(ones)
		}
		if seen[s] {
			continue
		}
		seen[s] = true
		if is4 && want4 {
			v4 = append(v4, s)
		} else if !is4 && want6 {
			v6 = append(v6, s)
		}
	}
	return strings.Join(append(v4, v6...), " ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
