package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
)

// Service is one master.cf entry: a listener (or internal endpoint) and the
// program that serves it, with its per-service main.cf overrides.
type Service struct {
	Name string // service field as written: "smtp", "127.0.0.1:2525", "cleanup"
	Type string // inet, unix, unix-dgram, fifo or pass

	Private bool // "-" means yes
	Unpriv  bool // "-" means yes
	Chroot  bool // "-" means no (Postfix 3 default)

	Wakeup       int  // seconds between wake-up events; 0: none
	WakeupIfUsed bool // wakeup field ended in "?": only when the service was used
	Maxproc      int  // process (goroutine pool) limit; 0: none; -1: "-", default_process_limit

	Command   string            // the program: smtpd, qmgr, local, pipe, ...
	Options   []string          // daemon flags other than -o, e.g. -v
	Overrides map[string]string // -o name=value
	Args      []string          // arguments after the options

	// For inet services, the listen address split from Name; Host is empty
	// for "all of inet_interfaces".
	Host, Port string

	File string // where the entry was read, for messages
	Line int

	fields [7]string // columns as written, for printing
	argv   []string  // normalized command line, for printing
}

// ProcessLimit is Maxproc with "-" resolved from default_process_limit.
func (s Service) ProcessLimit(c *Config) int {
	if s.Maxproc < 0 {
		return c.Int("default_process_limit")
	}
	return s.Maxproc
}

// Config returns c with this service's -o overrides applied and
// service_name set to the service's name.
func (s Service) Config(c *Config) (*Config, error) {
	o := map[string]string{"service_name": s.Name}
	for k, v := range s.Overrides {
		o[k] = v
	}
	oc, err := c.Override(o)
	if err != nil {
		return nil, fmt.Errorf("%s, line %d: service %s/%s: %w", s.File, s.Line, s.Name, s.Type, err)
	}
	return oc, nil
}

// LoadMaster reads DIR/master.cf, or DefaultMasterCF when that file does not
// exist.
func LoadMaster(dir string) ([]Service, error) {
	path := strings.TrimSuffix(dir, "/") + "/master.cf"
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ParseMaster("(built-in master.cf)", DefaultMasterCF)
	}
	if err != nil {
		return nil, fmt.Errorf("read master.cf: %w", err)
	}
	return ParseMaster(path, string(data))
}

var masterTypes = map[string]bool{"inet": true, "unix": true, "unix-dgram": true, "fifo": true, "pass": true}

// ParseMaster parses master.cf content. Errors name path and line.
func ParseMaster(path, data string) ([]Service, error) {
	var out []Service
	seen := map[string]int{}
	for _, ll := range logicalLines(path, data, nil) {
		s, err := parseService(ll.text)
		if err != nil {
			return nil, fmt.Errorf("%s, line %d: %w", path, ll.line, err)
		}
		s.File, s.Line = path, ll.line
		key := s.Name + "/" + s.Type
		if prev, dup := seen[key]; dup {
			return nil, fmt.Errorf("%s, line %d: duplicate service %s (first at line %d)", path, ll.line, key, prev)
		}
		seen[key] = ll.line
		out = append(out, s)
	}
	return out, nil
}

// splitFields splits on whitespace, keeping a {...} group as one field.
func splitFields(text string) ([]string, error) {
	var out []string
	for i := 0; i < len(text); {
		if text[i] == ' ' || text[i] == '\t' {
			i++
			continue
		}
		start, level := i, 0
		for ; i < len(text); i++ {
			c := text[i]
			if c == '{' {
				level++
			} else if c == '}' {
				level--
			} else if level == 0 && (c == ' ' || c == '\t') {
				break
			}
		}
		if level != 0 {
			return nil, fmt.Errorf("unbalanced {} in %q", text[start:])
		}
		out = append(out, text[start:i])
	}
	return out, nil
}

// unbrace strips the {} around a field and trims the inside.
func unbrace(f string) (string, error) {
	if !strings.HasPrefix(f, "{") {
		return f, nil
	}
	if !strings.HasSuffix(f, "}") {
		return "", fmt.Errorf("syntax error after '}' in %q", f)
	}
	return strings.Trim(f[1:len(f)-1], " \t"), nil
}

func parseFlag(name, v string, def bool) (bool, error) {
	switch v {
	case "-":
		return def, nil
	case "y":
		return true, nil
	case "n":
		return false, nil
	}
	return false, fmt.Errorf("invalid %s field %q: expected y, n or -", name, v)
}

func parseService(text string) (Service, error) {
	var s Service
	f, err := splitFields(text)
	if err != nil {
		return s, err
	}
	if len(f) < 8 {
		return s, fmt.Errorf("bad field count: expected service type private unpriv chroot wakeup maxproc command, got %q", text)
	}
	s.Name, s.Type = f[0], f[1]
	copy(s.fields[:], f[:7])
	if !masterTypes[s.Type] {
		return s, fmt.Errorf("invalid type field %q: expected inet, unix, unix-dgram, fifo or pass", s.Type)
	}
	if s.Private, err = parseFlag("private", f[2], true); err != nil {
		return s, err
	}
	if s.Unpriv, err = parseFlag("unpriv", f[3], true); err != nil {
		return s, err
	}
	if s.Chroot, err = parseFlag("chroot", f[4], false); err != nil {
		return s, err
	}
	if w := f[5]; w != "-" {
		digits, used := strings.CutSuffix(w, "?")
		n, err := strconv.Atoi(digits)
		if err != nil || n < 0 || strings.Trim(digits, "0123456789") != "" {
			return s, fmt.Errorf("invalid wakeup field %q: expected seconds, seconds?, or -", w)
		}
		s.Wakeup, s.WakeupIfUsed = n, used
	}
	s.Maxproc = -1
	if m := f[6]; m != "-" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 || strings.Trim(m, "0123456789") != "" {
			return s, fmt.Errorf("invalid maxproc field %q: expected a number or -", m)
		}
		s.Maxproc = n
	}
	if s.Type == "inet" {
		s.Host, s.Port = splitListen(s.Name)
	}
	s.argv, err = normalizeArgs(f[7:])
	if err != nil {
		return s, err
	}
	s.Command = s.argv[0]
	i := 1
	for ; i < len(s.argv); i++ {
		a := s.argv[i]
		if a == "--" {
			i++
			break
		}
		if !strings.HasPrefix(a, "-") {
			break
		}
		if a == "-o" && i+1 < len(s.argv) {
			name, value, err := splitNameValue(s.argv[i+1])
			if err != nil {
				return s, fmt.Errorf("-o %s: %w", s.argv[i+1], err)
			}
			if s.Overrides == nil {
				s.Overrides = map[string]string{}
			}
			s.Overrides[name] = value
			i++
			continue
		}
		s.Options = append(s.Options, a)
	}
	s.Args = append([]string(nil), s.argv[i:]...)
	return s, nil
}

// normalizeArgs brings the command and its arguments into the form postconf
// prints: "-oname=value" becomes "-o" "name=value", "-o {name = value}"
// becomes "-o" "name=value", and {} around other arguments are removed.
func normalizeArgs(in []string) ([]string, error) {
	cmd, err := unbrace(in[0])
	if err != nil {
		return nil, err
	}
	out := []string{cmd}
	i := 1
	for ; i < len(in); i++ {
		a := in[i]
		if !strings.HasPrefix(a, "-") || a == "--" {
			break
		}
		// "-vo..." is "-v" "-o...".
		if k := strings.IndexByte(a, 'o'); k > 1 {
			out = append(out, a[:k])
			a = "-" + a[k:]
		}
		if a[1:] != "o" && !strings.HasPrefix(a, "-o") {
			out = append(out, a)
			continue
		}
		var val string
		switch {
		case len(a) > 2:
			val = a[2:]
		case i+1 < len(in):
			i++
			val = in[i]
		default:
			return nil, fmt.Errorf("option -o without name=value")
		}
		if strings.HasPrefix(val, "{") {
			v, err := unbrace(val)
			if err != nil {
				return nil, err
			}
			name, value, err := splitNameValue(v)
			if err != nil {
				return nil, fmt.Errorf("-o %s: %w", val, err)
			}
			val = name + "=" + value
		}
		out = append(out, "-o", val)
	}
	for ; i < len(in); i++ {
		a, err := unbrace(in[i])
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// splitListen splits an inet service name into host and port: "smtp",
// "127.0.0.1:smtp", "[::1]:2525".
func splitListen(name string) (host, port string) {
	if h, p, err := net.SplitHostPort(name); err == nil {
		return h, p
	}
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		return name[:i], name[i+1:]
	}
	return "", name
}

// lineLimit and indent are postconf's folding parameters.
const (
	lineLimit = 80
	indent    = "    "
)

// Format renders the entry as postconf -M does; fold wraps long lines like
// postconf -Mf. expand, when not nil, is applied to -o values (postconf
// -Mx).
func (s Service) Format(fold bool, expand func(string) string) string {
	var b strings.Builder
	columns := [...]int{0, 11, 17, 25, 33, 41, 49, 57}
	n := 0
	add := func(t string) { b.WriteString(t); n += len(t) }
	fields := append(s.fields[:], s.argv[0])
	for i, f := range fields {
		if n > 0 {
			for {
				add(" ")
				if n >= columns[i] {
					break
				}
			}
		}
		add(f)
	}
	inOptions := true
	for i := 1; i < len(s.argv); i++ {
		a := s.argv[i]
		width := len(a)
		var val string
		hasVal, parens := false, false
		if inOptions {
			if !strings.HasPrefix(a, "-") || a == "--" {
				inOptions = false
			} else if a == "-o" && i+1 < len(s.argv) {
				hasVal = true
				val = s.argv[i+1]
				if expand != nil {
					val = expand(val)
				}
				n = lineLimit         // an option with a value starts a new line
				width += len(val) + 3 // as postconf counts it
				if strings.ContainsAny(val, " \t\r\n") {
					parens = true
					width += 2
				}
			}
		}
		if !inOptions {
			parens = strings.ContainsAny(a, " \t\r\n")
		}
		if n > len(indent) {
			if !fold || n+1+width < lineLimit {
				add(" ")
			} else {
				b.WriteString("\n" + indent)
				n = len(indent)
			}
		}
		if !inOptions && parens {
			add("{" + a + "}")
		} else {
			add(a)
		}
		if hasVal {
			add(" ")
			if parens {
				add("{" + val + "}")
			} else {
				add(val)
			}
			i++
			n = lineLimit
		}
	}
	return b.String() + "\n"
}
