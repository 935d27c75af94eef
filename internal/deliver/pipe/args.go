package pipe

import (
	"fmt"
	"strconv"
	"strings"
)

// Args are the pipe(8) attributes of a master.cf service:
//
//	flags=BDFORXhqu.> user=name[:group] size=N eol=\n directory=/path
//	null_sender=text argv=command args...
type Args struct {
	Flags      Flags
	User       string
	Group      string // "": the user's own group
	Size       int64  // 0: no limit
	EOL        string // line ending of the copy, "\n" by default
	Directory  string
	NullSender string // what the null sender becomes; MAILER-DAEMON by default
	Argv       []string
}

// Flags are the processing flags of flags=.
type Flags struct {
	Blank       bool // B: an empty line after the message
	DeliveredTo bool // D: Delivered-To: header, loop check
	FromLine    bool // F: "From sender date" line
	OriginalTo  bool // O: X-Original-To: header
	ReturnPath  bool // R: Return-Path: header
	Final       bool // X: final delivery (DSN "delivered" rather than "relayed")
	FoldHost    bool // h: lower-case domains and the next hop
	Quote       bool // q: quote address local parts
	FoldUser    bool // u: lower-case local parts
	DotStuff    bool // .: "." before lines starting with "."
	QuoteFrom   bool // >: ">" before lines starting with "From "
}

// macros are the names argv may use; perRecipient ones multiply the
// argument they appear in by the number of recipients.
var macros = map[string]bool{
	"sender": false, "recipient": true, "original_recipient": true, "user": true, "extension": true,
	"mailbox": true, "nexthop": false, "domain": false, "size": false, "queue_id": false,
	"client_address": false, "client_hostname": false, "client_helo": false, "client_port": false,
	"client_protocol": false, "sasl_method": false, "sasl_sender": false, "sasl_username": false,
}

// ParseArgs parses the arguments of a pipe service (config.Service.Args)
// as pipe(8) does: attributes, argv= last; user= and argv= required.
func ParseArgs(args []string) (*Args, error) {
	a := &Args{EOL: "\n", NullSender: "MAILER-DAEMON"}
	for i, arg := range args {
		name, value, ok := strings.Cut(arg, "=")
		if !ok {
			return nil, fmt.Errorf("pipe: bad attribute %q: want name=value", arg)
		}
		switch name {
		case "argv":
			if value == "" {
				return nil, fmt.Errorf("pipe: argv= names no command")
			}
			a.Argv = append([]string{value}, args[i+1:]...)
			for _, x := range a.Argv {
				if err := checkMacros(x); err != nil {
					return nil, fmt.Errorf("pipe: argv %q: %w", x, err)
				}
			}
			if !strings.HasPrefix(a.Argv[0], "/") {
				return nil, fmt.Errorf("pipe: argv= command %q is not an absolute path", a.Argv[0])
			}
			if a.User == "" {
				return nil, fmt.Errorf("pipe: missing user= command-line attribute")
			}
			return a, nil
		case "flags":
			if err := a.Flags.parse(value); err != nil {
				return nil, err
			}
		case "user":
			a.User, a.Group, _ = strings.Cut(value, ":")
			if a.User == "" {
				return nil, fmt.Errorf("pipe: user= names no user")
			}
		case "size":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("pipe: size=%s: not a size", value)
			}
			a.Size = n
		case "eol":
			eol, err := unescape(value)
			if err != nil {
				return nil, fmt.Errorf("pipe: eol=%s: %w", value, err)
			}
			a.EOL = eol
		case "directory":
			if !strings.HasPrefix(value, "/") {
				return nil, fmt.Errorf("pipe: directory=%s: not an absolute path", value)
			}
			a.Directory = value
		case "null_sender":
			a.NullSender = value
		case "chroot":
			return nil, fmt.Errorf("pipe: chroot= is not supported")
		default:
			return nil, fmt.Errorf("pipe: unknown attribute name: %s", name)
		}
	}
	return nil, fmt.Errorf("pipe: missing argv= command-line attribute")
}

func (f *Flags) parse(s string) error {
	for _, c := range s {
		switch c {
		case 'B':
			f.Blank = true
		case 'D':
			f.DeliveredTo = true
		case 'F':
			f.FromLine = true
		case 'O':
			f.OriginalTo = true
		case 'R':
			f.ReturnPath = true
		case 'X':
			f.Final = true
		case 'h':
			f.FoldHost = true
		case 'q':
			f.Quote = true
		case 'u':
			f.FoldUser = true
		case '.':
			f.DotStuff = true
		case '>':
			f.QuoteFrom = true
		default:
			return fmt.Errorf("pipe: flags=%s: unknown flag %q", s, c)
		}
	}
	return nil
}

// unescape reads the C-style escapes eol= allows: \a \b \f \n \r \t \v,
// \ddd (octal, up to three digits) and \\.
func unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		if i == len(s) {
			return "", fmt.Errorf("backslash at the end")
		}
		switch c := s[i]; c {
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '\\':
			b.WriteByte('\\')
		default:
			if c < '0' || c > '7' {
				return "", fmt.Errorf("unknown escape \\%c", c)
			}
			n := 0
			for k := 0; k < 3 && i < len(s) && s[i] >= '0' && s[i] <= '7'; k++ {
				n = n*8 + int(s[i]-'0')
				i++
			}
			i--
			if n > 255 {
				return "", fmt.Errorf("octal escape out of range")
			}
			b.WriteByte(byte(n))
		}
	}
	return b.String(), nil
}

// scan walks the macros of an argument: $name, ${name}, $(name), and $$
// for a '$'. lit receives literal text, mac the macro names.
func scan(s string, lit func(string), mac func(string)) error {
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 {
			lit(s)
			return nil
		}
		lit(s[:i])
		s = s[i+1:]
		var name string
		switch {
		case strings.HasPrefix(s, "$"):
			lit("$")
			s = s[1:]
			continue
		case strings.HasPrefix(s, "{"), strings.HasPrefix(s, "("):
			closer := "}"
			if s[0] == '(' {
				closer = ")"
			}
			j := strings.Index(s, closer)
			if j < 0 {
				return fmt.Errorf("unbalanced %q", s[:1])
			}
			name, s = s[1:j], s[j+1:]
		default:
			j := 0
			for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			if j == 0 {
				return fmt.Errorf("'$' without a macro name")
			}
			name, s = s[:j], s[j:]
		}
		mac(name)
	}
}

func checkMacros(s string) error {
	var bad string
	if err := scan(s, func(string) {}, func(n string) {
		if _, ok := macros[n]; !ok && bad == "" {
			bad = n
		}
	}); err != nil {
		return err
	}
	if bad != "" {
		return fmt.Errorf("unknown macro ${%s}", bad)
	}
	return nil
}

// perRecipient tells whether an argument uses a per-recipient macro.
func perRecipient(s string) bool {
	per := false
	scan(s, func(string) {}, func(n string) { per = per || macros[n] })
	return per
}
