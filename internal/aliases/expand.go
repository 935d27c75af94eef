package aliases

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"mailhorn/internal/config"
	"mailhorn/internal/maps"
)

// Lookuper is what the expander needs of an alias table; maps.Table and
// *maps.List have it.
type Lookuper interface {
	Lookup(ctx context.Context, key string) (value string, found bool, err error)
}

// Table is one alias table, searched in alias_maps order.
type Table struct {
	Name  string // the table spec, for messages and Origin
	Table Lookuper
	UID   int // owner of the table file, -1 when unknown
	GID   int
}

// Error is an expansion failure. Status is the RFC 3463 code Postfix's
// local(8) uses for the same failure; Temporary failures should be retried.
type Error struct {
	Status string
	Msg    string
	Err    error // underlying cause, if any
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Temporary tells whether delivery should be tried again later.
func (e *Error) Temporary() bool { return strings.HasPrefix(e.Status, "4.") }

// Default limits of an Expander.
const (
	DefaultMaxDepth       = 100     // local(8)'s nesting limit
	DefaultMaxIncludeSize = 1 << 20 // bytes per :include: file
	DefaultMaxTargets     = 10000
)

// Expander expands local names through alias tables and :include: files.
// Its zero value expands nothing (no tables); New fills it from main.cf.
type Expander struct {
	Tables []Table
	// Delimiters is recipient_delimiter: the characters that separate a
	// user name from an address extension.
	Delimiters string
	// PropagateAlias and PropagateInclude say whether an extension that
	// matched no alias is appended to the addresses of the alias (and of
	// :include: files in it): propagate_unmatched_extensions "alias" and
	// "include".
	PropagateAlias   bool
	PropagateInclude bool
	// OwnerRequestSpecial enables owner-NAME handling and keeps owner-foo
	// and foo-request whole when '-' is a delimiter.
	OwnerRequestSpecial bool
	// ExpandOwnerAlias makes Owner the value of owner-NAME instead of the
	// name owner-NAME itself.
	ExpandOwnerAlias bool
	// ResetOwnerAlias drops the owner inherited from a parent alias when a
	// child alias has no owner- alias of its own.
	ResetOwnerAlias bool
	// NoSplit names are never split at a delimiter (postmaster,
	// mailer-daemon, the double-bounce sender).
	NoSplit []string
	// IsLocal tells whether an address domain is delivered here, so that
	// user@domain is expanded like user. Nil: only bare names are local.
	IsLocal func(domain string) bool
	// ReadFile reads an :include: file and reports its owner. Nil means
	// ReadIncludeFile with MaxIncludeSize. Delivery may supply one that
	// opens the file with the rights of the including alias or user.
	ReadFile func(ctx context.Context, path string) (data []byte, uid, gid int, err error)

	MaxDepth       int   // 0: DefaultMaxDepth
	MaxIncludeSize int64 // 0: DefaultMaxIncludeSize
	MaxTargets     int   // 0: DefaultMaxTargets
}

// New builds an expander from the configuration and the open alias tables
// (alias_maps, in order).
func New(cfg *config.Config, tables []Table) *Expander {
	x := &Expander{
		Tables:              tables,
		Delimiters:          cfg.Get("recipient_delimiter"),
		OwnerRequestSpecial: cfg.Bool("owner_request_special"),
		ExpandOwnerAlias:    cfg.Bool("expand_owner_alias"),
		ResetOwnerAlias:     cfg.Bool("reset_owner_alias"),
		NoSplit:             []string{"postmaster", "mailer-daemon"},
	}
	if db := cfg.Get("double_bounce_sender"); db != "" {
		x.NoSplit = append(x.NoSplit, db)
	} else {
		x.NoSplit = append(x.NoSplit, "double-bounce")
	}
	for _, v := range cfg.List("propagate_unmatched_extensions") {
		switch strings.ToLower(v) {
		case "alias":
			x.PropagateAlias = true
		case "include":
			x.PropagateInclude = true
		}
	}
	return x
}

// frame is what a target inherits from the aliases and files above it.
type frame struct {
	chain     []string // alias names, outermost first
	origin    Origin
	owner     string
	unmatched string // extension to propagate, with its delimiter
	home      string // .forward owner's home, for ~/file
	depth     int
}

// run is the state of one expansion.
type run struct {
	targets []Target
	seen    map[string]bool
}

// Expand expands the local part of a recipient (user or user+ext, any
// case) into its targets. A name that is no alias yields one Mailbox
// target. On error no target should be delivered: the whole recipient is
// deferred (Temporary) or bounced.
func (x *Expander) Expand(ctx context.Context, local string) ([]Target, error) {
	r := &run{seen: map[string]bool{}}
	f := frame{origin: Origin{Kind: FromRecipient, UID: -1, GID: -1}}
	if err := x.recipient(ctx, r, local, false, f); err != nil {
		return nil, err
	}
	return r.targets, nil
}

// ExpandForward expands the contents of user's .forward file (path, owned
// by uid/gid; home is the user's home directory, for ~/file). Each line
// holds the right-hand side of an alias; lines starting with '#' are
// comments. The user itself, or \user, means the user's mailbox.
func (x *Expander) ExpandForward(ctx context.Context, user, home string, content []byte, path string, uid, gid int) ([]Target, error) {
	r := &run{seen: map[string]bool{}}
	user = maps.FoldKey(user)
	f := frame{
		chain:  []string{user},
		origin: Origin{Kind: FromForward, Name: path, UID: uid, GID: gid},
		home:   home,
	}
	if err := x.lines(ctx, r, content, f); err != nil {
		return nil, err
	}
	return r.targets, nil
}

func (x *Expander) maxDepth() int {
	if x.MaxDepth > 0 {
		return x.MaxDepth
	}
	return DefaultMaxDepth
}

// split separates an address extension (returned with its delimiter) the
// way Postfix's split_addr does.
func (x *Expander) split(name string) (user, ext string) {
	if x.Delimiters == "" {
		return name, ""
	}
	for _, n := range x.NoSplit {
		if strings.EqualFold(name, n) {
			return name, ""
		}
	}
	if x.OwnerRequestSpecial && strings.Contains(x.Delimiters, "-") {
		if strings.HasPrefix(name, "owner-") || (len(name) > 8 && strings.HasSuffix(name, "-request")) {
			return name, ""
		}
	}
	// Postfix does not split when the user part would be empty.
	i := strings.IndexAny(name, x.Delimiters)
	if i <= 0 {
		return name, ""
	}
	return name[:i], name[i:]
}

// lookup searches the tables in order.
func (x *Expander) lookup(ctx context.Context, key string) (string, *Table, error) {
	for i := range x.Tables {
		t := &x.Tables[i]
		v, ok, err := t.Table.Lookup(ctx, key)
		if err != nil {
			return "", nil, &Error{Status: "4.3.0", Msg: "alias database unavailable", Err: fmt.Errorf("table %s: %w", t.Name, err)}
		}
		if ok {
			return v, t, nil
		}
	}
	return "", nil, nil
}

func inChain(chain []string, name string) bool {
	for _, c := range chain {
		if c == name {
			return true
		}
	}
	return false
}

// recipient expands one local name.
func (x *Expander) recipient(ctx context.Context, r *run, name string, escaped bool, f frame) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if f.depth > x.maxDepth() {
		return &Error{Status: "5.4.6", Msg: "alias database loop for " + name}
	}
	name = maps.FoldKey(name)
	user, ext := x.split(name)
	if user == "" {
		return &Error{Status: "5.1.3", Msg: fmt.Sprintf("null username in %q", name)}
	}
	if escaped {
		return x.add(r, mailbox(user, ext), f)
	}
	// An alias listed in its own expansion (directly, as Postfix detects,
	// or further down, which Postfix leaves to its depth limit) means the
	// user's mailbox.
	key, unmatched := name, f.unmatched
	if inChain(f.chain, key) {
		return x.add(r, mailbox(user, ext), f)
	}
	value, table, err := x.lookup(ctx, key)
	if err != nil {
		return err
	}
	if table == nil && ext != "" {
		key = user
		if inChain(f.chain, key) {
			return x.add(r, mailbox(user, ext), f)
		}
		if value, table, err = x.lookup(ctx, key); err != nil {
			return err
		}
		if x.PropagateAlias {
			unmatched = ext
		} else {
			unmatched = ""
		}
	}
	if table == nil {
		return x.add(r, mailbox(user, ext), f)
	}

	child := frame{
		chain:     append(append([]string(nil), f.chain...), key),
		origin:    Origin{Kind: FromAlias, Name: table.Name, UID: table.UID, GID: table.GID},
		owner:     f.owner,
		unmatched: unmatched,
		depth:     f.depth + 1,
	}
	if x.ResetOwnerAlias {
		child.owner = ""
	}
	if x.OwnerRequestSpecial {
		owner := "owner-" + key
		rhs, ot, err := x.lookup(ctx, owner)
		if err != nil {
			return err
		}
		if ot != nil {
			child.owner = owner
			if x.ExpandOwnerAlias {
				child.owner = rhs
			}
		}
	}
	var addrs [][]token
	for _, a := range parseAddresses(scan(value)) {
		if addrString(a) != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return &Error{Status: "4.3.0", Msg: "no recipient in alias lookup result for " + key}
	}
	for _, a := range addrs {
		if err := x.token(ctx, r, a, child); err != nil {
			return err
		}
	}
	return nil
}

func mailbox(user, ext string) Target {
	if ext != "" {
		ext = ext[1:]
	}
	return Target{Kind: Mailbox, Value: user, Extension: ext}
}

// token handles one address of an alias value, :include: or .forward line.
func (x *Expander) token(ctx context.Context, r *run, toks []token, f frame) error {
	s := addrString(toks)
	switch {
	case s == "":
		return nil
	case s[0] == '/':
		return x.add(r, Target{Kind: File, Value: s}, f)
	case s[0] == '~':
		if len(s) < 2 || s[1] != '/' {
			return &Error{Status: "5.1.1", Msg: "bad home directory syntax for: " + s}
		}
		if f.home == "" {
			return &Error{Status: "5.1.1", Msg: "unknown home directory for: " + s}
		}
		return x.add(r, Target{Kind: File, Value: strings.TrimSuffix(f.home, "/") + s[1:]}, f)
	case s[0] == '|':
		return x.add(r, Target{Kind: Command, Value: s[1:]}, f)
	case len(s) >= len(":include:") && strings.EqualFold(s[:len(":include:")], ":include:"):
		return x.include(ctx, r, s[len(":include:"):], f)
	}
	// \user: the mailbox, no alias expansion. Only raw text (.forward,
	// :include:, tables not built by postalias) still has the backslash.
	escaped := len(toks) == 1 && toks[0].escaped
	local, domain := s, ""
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		local, domain = s[:i], s[i+1:]
	}
	if f.unmatched != "" {
		local += f.unmatched
		f.unmatched = ""
	}
	if domain == "" || (x.IsLocal != nil && x.IsLocal(domain)) {
		return x.recipient(ctx, r, local, escaped, f)
	}
	return x.add(r, Target{Kind: Address, Value: local + "@" + domain}, f)
}

// add records a target once: duplicates (same kind and value) are dropped,
// the first one wins, as local(8)'s duplicate filter does.
func (x *Expander) add(r *run, t Target, f frame) error {
	key := t.Kind.String() + " " + t.Value
	if t.Kind == Mailbox || t.Kind == Address {
		key = t.Kind.String() + " " + maps.FoldKey(t.Value)
		if t.Extension != "" {
			key += " " + t.Extension
		}
	}
	if r.seen[key] {
		return nil
	}
	limit := x.MaxTargets
	if limit <= 0 {
		limit = DefaultMaxTargets
	}
	if len(r.targets) >= limit {
		return &Error{Status: "5.3.0", Msg: fmt.Sprintf("more than %d targets in alias expansion", limit)}
	}
	r.seen[key] = true
	t.Alias = f.chain
	t.Origin = f.origin
	t.Owner = f.owner
	r.targets = append(r.targets, t)
	return nil
}

// include expands an :include: file.
func (x *Expander) include(ctx context.Context, r *run, path string, f frame) error {
	if !strings.HasPrefix(path, "/") {
		return &Error{Status: "5.3.5", Msg: fmt.Sprintf(":include:%s uses a relative path", path)}
	}
	if f.depth > x.maxDepth() {
		return &Error{Status: "5.4.6", Msg: "recipient nesting limit exceeded in :include:" + path}
	}
	if r.seen["include "+path] {
		return nil
	}
	r.seen["include "+path] = true
	read := x.ReadFile
	if read == nil {
		read = func(ctx context.Context, path string) ([]byte, int, int, error) {
			return ReadIncludeFile(path, x.MaxIncludeSize)
		}
	}
	data, uid, gid, err := read(ctx, path)
	if err != nil {
		return &Error{Status: "5.3.5", Msg: "cannot read :include: file " + path, Err: err}
	}
	f.origin = Origin{Kind: FromInclude, Name: path, UID: uid, GID: gid}
	f.depth++
	if !x.PropagateInclude {
		f.unmatched = ""
	}
	return x.lines(ctx, r, data, f)
}

// lines expands :include: or .forward contents: one or more addresses per
// line, '#' in the first column starts a comment line. Unlike an aliases
// file there are no continuation lines.
func (x *Expander) lines(ctx context.Context, r *run, data []byte, f frame) error {
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		for _, a := range parseAddresses(scan(line)) {
			if err := x.token(ctx, r, a, f); err != nil {
				return err
			}
		}
	}
	return nil
}

// ReadIncludeFile reads an :include: file the way local(8) accepts one: an
// absolute path (symbolic links allowed) to a regular file that is not
// world-writable, here also at most max bytes (0: DefaultMaxIncludeSize).
// It returns the file's owner.
func ReadIncludeFile(path string, max int64) ([]byte, int, int, error) {
	if max <= 0 {
		max = DefaultMaxIncludeSize
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, -1, -1, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, -1, -1, err
	}
	if !st.Mode().IsRegular() {
		return nil, -1, -1, fmt.Errorf("%s is not a regular file", path)
	}
	if st.Mode().Perm()&0o002 != 0 {
		return nil, -1, -1, fmt.Errorf("%s is world writable", path)
	}
	if st.Size() > max {
		return nil, -1, -1, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	data, err := io.ReadAll(io.LimitReader(fh, max+1))
	if err != nil {
		return nil, -1, -1, err
	}
	if int64(len(data)) > max {
		return nil, -1, -1, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	uid, gid := -1, -1
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		uid, gid = int(sys.Uid), int(sys.Gid)
	}
	return data, uid, gid, nil
}
