package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultDir is where main.cf and master.cf live when neither -c nor
// MAILHORN_CONFIG_DIR says otherwise.
const DefaultDir = "/etc/mailhorn"

// Dir picks the configuration directory: the -c flag if given, else
// $MAILHORN_CONFIG_DIR, else DefaultDir.
func Dir(flagValue string, getenv func(string) string) string {
	if flagValue != "" {
		return flagValue
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	if d := getenv("MAILHORN_CONFIG_DIR"); d != "" {
		return d
	}
	return DefaultDir
}

// Config is an immutable view of the parameters: main.cf values over the
// registry defaults. Accessors return fully expanded values; Load has already
// checked every value against its declared type, so they cannot fail.
type Config struct {
	dir      string
	host     host
	set      map[string]setting  // explicit settings (main.cf, -o, FromMap)
	services map[serviceKey]bool // delivery services from master.cf
	refs     map[string]bool     // names master.cf -o values refer to
	unused   map[string]bool     // set names nothing knows or refers to
	values   map[string]string   // expanded values of every known name
}

// Load reads DIR/main.cf (a missing file is an empty one) and validates it.
// Warnings (unknown parameters, with file:line) go to warn; errors name
// file:line. DIR/master.cf (or the built-in one) is read too, for the
// per-service parameter names it defines.
func Load(dir string, warn func(string)) (*Config, error) {
	return load(dir, osHost(), warn)
}

func load(dir string, h host, warn func(string)) (*Config, error) {
	path := strings.TrimSuffix(dir, "/") + "/main.cf"
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read main.cf: %w", err)
	}
	entries, err := parseMain(path, string(data), warn)
	if err != nil {
		return nil, err
	}
	set := map[string]setting{}
	for _, e := range entries {
		if prev, dup := set[e.name]; dup && warn != nil {
			warn(fmt.Sprintf("%s, line %d: overriding earlier entry: %s=%s", path, e.line, e.name, prev.value))
		}
		set[e.name] = setting{value: e.value, file: path, line: e.line}
	}
	// Like Postfix, the directory given with -c counts as set.
	if _, ok := set["config_directory"]; !ok && dir != DefaultDir {
		set["config_directory"] = setting{value: dir}
	}
	services, _ := LoadMaster(dir) // LoadMaster reports master.cf errors itself
	refs := map[string]bool{}
	for _, s := range services {
		for _, v := range s.Overrides {
			for _, n := range references(v) {
				refs[n] = true
			}
		}
	}
	return build(dir, h, set, serviceNames(services), refs, warn)
}

// LoadDefaults is Load with an empty main.cf: the values postconf -d shows.
// master.cf is still read for per-service parameter names.
func LoadDefaults(dir string) (*Config, error) {
	services, _ := LoadMaster(dir)
	return build(dir, osHost(), map[string]setting{}, serviceNames(services), nil, nil)
}

// FromMap builds a Config from literal main.cf settings over the defaults,
// for tests and for embedding. Values are validated like Load does.
func FromMap(settings map[string]string) (*Config, error) {
	set := map[string]setting{}
	for k, v := range settings {
		set[k] = setting{value: v}
	}
	services, _ := ParseMaster("(built-in master.cf)", DefaultMasterCF)
	return build("", osHost(), set, serviceNames(services), nil, nil)
}

// Override returns a copy with some parameters replaced (master.cf -o).
func (c *Config) Override(settings map[string]string) (*Config, error) {
	set := make(map[string]setting, len(c.set)+len(settings))
	for k, s := range c.set {
		set[k] = s
	}
	for k, v := range settings {
		set[k] = setting{value: v, file: "master.cf -o " + k}
	}
	return build(c.dir, c.host, set, c.services, c.refs, nil)
}

// serviceSuffixes are the per-service parameters Postfix derives from the
// name of each master.cf service run by a delivery agent, with the
// parameter that gives their default.
var serviceSuffixes = map[string]string{
	"_time_limit":                                  "command_time_limit",
	"_recipient_limit":                             "default_recipient_limit",
	"_extra_recipient_limit":                       "default_extra_recipient_limit",
	"_recipient_refill_limit":                      "default_recipient_refill_limit",
	"_recipient_refill_delay":                      "default_recipient_refill_delay",
	"_delivery_slot_cost":                          "default_delivery_slot_cost",
	"_delivery_slot_loan":                          "default_delivery_slot_loan",
	"_delivery_slot_discount":                      "default_delivery_slot_discount",
	"_minimum_delivery_slots":                      "default_minimum_delivery_slots",
	"_initial_destination_concurrency":             "initial_destination_concurrency",
	"_destination_concurrency_limit":               "default_destination_concurrency_limit",
	"_destination_recipient_limit":                 "default_destination_recipient_limit",
	"_destination_concurrency_positive_feedback":   "default_destination_concurrency_positive_feedback",
	"_destination_concurrency_negative_feedback":   "default_destination_concurrency_negative_feedback",
	"_destination_concurrency_failed_cohort_limit": "default_destination_concurrency_failed_cohort_limit",
	"_destination_rate_delay":                      "default_destination_rate_delay",
	"_transport_rate_delay":                        "default_transport_rate_delay",
}

// deliveryCommands are the master.cf commands whose services get
// per-service parameters (Postfix: local, error, virtual, smtp, lmtp, pipe;
// _time_limit only for pipe and spawn).
var deliveryCommands = map[string]bool{"local": true, "error": true, "virtual": true, "smtp": true, "lmtp": true, "pipe": true, "spawn": true}

// serviceKey names a master.cf service by what per-service parameters
// depend on.
type serviceKey struct{ name, command string }

func serviceNames(services []Service) map[serviceKey]bool {
	m := map[serviceKey]bool{}
	for _, s := range services {
		if deliveryCommands[s.Command] {
			m[serviceKey{s.Name, s.Command}] = true
		}
	}
	return m
}

// serviceParam returns the declaration of a per-service parameter such as
// relay_destination_concurrency_limit, when name is one.
func (c *Config) serviceParam(name string) (Param, bool) {
	for key := range c.services {
		svc, cmd := key.name, key.command
		suffix, ok := strings.CutPrefix(name, svc)
		if !ok {
			continue
		}
		def, ok := serviceSuffixes[suffix]
		if !ok {
			continue
		}
		switch {
		case cmd == "spawn" && suffix != "_time_limit":
			continue
		case cmd != "pipe" && cmd != "spawn" && suffix == "_time_limit":
			continue
		}
		if reg, known := Lookup(name); known {
			return reg, true
		}
		base, _ := Lookup(def)
		return Param{Name: name, Default: "$" + def, Type: base.Type, Unit: base.Unit,
			Doc: fmt.Sprintf("Per-service %s for the %s service.", def, svc)}, true
	}
	return Param{}, false
}

// param returns the declaration of a registered or per-service parameter.
func (c *Config) param(name string) (Param, bool) {
	if p, ok := Lookup(name); ok {
		return p, true
	}
	return c.serviceParam(name)
}

func build(dir string, h host, set map[string]setting, services map[serviceKey]bool, refs map[string]bool, warn func(string)) (*Config, error) {
	c := &Config{dir: dir, host: h, set: set, services: services, refs: refs}
	var x *expander
	raw := func(name string) (string, bool) {
		if s, ok := c.set[name]; ok {
			return s.value, true
		}
		if v, ok := c.host.computedDefault(name, func(n string) string {
			v, _, _ := x.param(n)
			return v
		}); ok {
			return v, true
		}
		if p, ok := c.param(name); ok {
			return p.Default, true
		}
		return "", false
	}
	isRaw := func(name string) bool {
		p, ok := Lookup(name)
		return ok && p.Raw
	}
	x = newExpander(raw, isRaw)

	c.values = map[string]string{}
	names := c.knownNames()
	// Parameters set in main.cf first: a bad value is reported where it
	// was written, not through a default that refers to it
	// (imapd_literal_limit = $message_size_limit).
	sort.SliceStable(names, func(i, j int) bool {
		_, si := c.set[names[i]]
		_, sj := c.set[names[j]]
		return si && !sj
	})
	for _, name := range names {
		s, isSet := c.set[name]
		v, _, err := x.param(name)
		if err != nil {
			if isSet {
				return nil, fmt.Errorf("%s%s: %w", s.where(), name, err)
			}
			return nil, fmt.Errorf("parameter %s: %w", name, err)
		}
		if p, ok := c.param(name); ok {
			if err := checkValue(p, v); err != nil {
				if isSet {
					return nil, fmt.Errorf("%s%w", s.where(), err)
				}
				return nil, fmt.Errorf("default of %w", err)
			}
		}
		c.values[name] = v
	}
	c.unused = c.findUnused()
	if warn != nil {
		c.warnUnused(warn)
	}
	return c, nil
}

// knownNames is every registered, per-service and explicitly set name,
// sorted.
func (c *Config) knownNames() []string {
	seen := map[string]bool{}
	var names []string
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	for _, p := range Params() {
		add(p.Name)
	}
	for key := range c.services {
		for suffix := range serviceSuffixes {
			if _, ok := c.serviceParam(key.name + suffix); ok {
				add(key.name + suffix)
			}
		}
	}
	for n := range c.set {
		add(n)
	}
	sort.Strings(names)
	return names
}

// userDefined is the set of names that main.cf may set although mailhorn
// does not know them: those referenced as $name by other values (set ones,
// or defaults of unset parameters) and smtpd_restriction_classes members.
func (c *Config) userDefined() map[string]bool {
	user := map[string]bool{}
	for n := range c.refs {
		user[n] = true
	}
	for _, p := range Params() {
		if _, isSet := c.set[p.Name]; isSet || p.Raw {
			continue
		}
		for _, n := range references(p.Default) {
			user[n] = true
		}
	}
	for name, s := range c.set {
		if p, ok := Lookup(name); ok && p.Raw {
			continue
		}
		for _, n := range references(s.value) {
			user[n] = true
		}
	}
	for _, n := range splitList(c.values["smtpd_restriction_classes"]) {
		user[n] = true
	}
	return user
}

// findUnused returns the main.cf settings nobody uses: not registered, not
// per-service, not referenced.
func (c *Config) findUnused() map[string]bool {
	user := c.userDefined()
	unused := map[string]bool{}
	for name, s := range c.set {
		if s.file == "" || user[name] {
			continue
		}
		if _, ok := c.param(name); !ok {
			unused[name] = true
		}
	}
	return unused
}

// warnUnused reports unused settings like postconf's "unused parameter"
// warning (which has no line number; ours does).
func (c *Config) warnUnused(warn func(string)) {
	names := make([]string, 0, len(c.unused))
	for name := range c.unused {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return c.set[names[i]].line < c.set[names[j]].line })
	for _, name := range names {
		s := c.set[name]
		warn(fmt.Sprintf("%sunused parameter: %s=%s", s.where(), name, s.value))
	}
}

// Dir is the configuration directory the Config was loaded from.
func (c *Config) Dir() string { return c.dir }

// Get returns the expanded value of a parameter ("" for unknown ones).
func (c *Config) Get(name string) string { return c.values[name] }

// Known reports whether name is a registered or per-service parameter, or
// a user-defined one (set in main.cf and referenced as $name).
func (c *Config) Known(name string) bool {
	_, ok := c.values[name]
	return ok && !c.unused[name]
}

// IsSet reports whether main.cf (or an override) sets name.
func (c *Config) IsSet(name string) bool {
	_, ok := c.set[name]
	return ok
}

// Raw returns a parameter's value before expansion: the main.cf text or the
// default.
func (c *Config) Raw(name string) (string, bool) {
	if s, ok := c.set[name]; ok {
		return s.value, true
	}
	if v, ok := c.host.computedDefault(name, c.Get); ok {
		return v, true
	}
	if p, ok := c.param(name); ok {
		return p.Default, true
	}
	return "", false
}

// Names lists every parameter the Config knows (see Known), sorted.
func (c *Config) Names() []string {
	names := make([]string, 0, len(c.values))
	for n := range c.values {
		if !c.unused[n] {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// SetNames lists the known parameters main.cf sets, sorted.
func (c *Config) SetNames() []string {
	names := make([]string, 0, len(c.set))
	for n := range c.set {
		if !c.unused[n] {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Expand expands $name references in text against this configuration.
func (c *Config) Expand(text string) (string, error) {
	x := newExpander(func(name string) (string, bool) {
		if c.Known(name) {
			return c.values[name], true
		}
		return "", false
	}, nil)
	// The values are already expanded; mark them done so they are not
	// expanded again.
	for n, v := range c.values {
		x.cache[n] = v
	}
	return x.text(text, 0)
}

// List splits a list-valued parameter the way Postfix does: separators are
// commas and/or whitespace, and {braces} group an element containing them.
func (c *Config) List(name string) []string {
	return splitList(c.Get(name))
}

// Bool, Int, Duration and Size read typed parameters.
func (c *Config) Bool(name string) bool {
	b, _ := parseBool(c.Get(name))
	return b
}

func (c *Config) Int(name string) int {
	n, _ := strconv.Atoi(c.Get(name))
	return n
}

func (c *Config) Duration(name string) time.Duration {
	var unit byte = 's'
	if p, ok := c.param(name); ok && p.Unit != 0 {
		unit = p.Unit
	}
	d, _ := parseDuration(c.Get(name), unit)
	return d
}

func (c *Config) Size(name string) int64 {
	n, _ := strconv.ParseInt(c.Get(name), 10, 64)
	return n
}
