package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"mailhorn/internal/address"
	"mailhorn/internal/config"
	"mailhorn/internal/rewrite"
)

// runResolve is mailhorn resolve: show, step by step, how an address is
// canonicalised, mapped, masqueraded, virtual-aliased and finally resolved
// to an address class, transport, next hop and recipient, as cleanup(8)
// and trivial-rewrite(8) would do it. Postfix has no such command.
func runResolve(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("resolve", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	confDir := fs.String("c", "", "configuration directory")
	sender := fs.Bool("s", false, "treat the addresses as envelope senders")
	fs.Bool("r", true, "treat the addresses as envelope recipients (default)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: mailhorn resolve [-c DIR] [-s | -r] ADDRESS...")
	}
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	fatal := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "mailhorn resolve: fatal: "+format+"\n", a...)
		return 1
	}
	cfg, err := config.Load(config.Dir(*confDir, e.getenv), func(w string) {
		fmt.Fprintf(e.stderr, "mailhorn resolve: warning: %s\n", w)
	})
	if err != nil {
		return fatal("%v", err)
	}
	rw, err := rewrite.New(ctx, cfg, rewrite.Options{})
	if err != nil {
		return fatal("%v", err)
	}
	defer rw.Close()

	code := 0
	for _, arg := range fs.Args() {
		addr, err := parseCLIAddress(arg)
		if err != nil {
			fmt.Fprintf(e.stderr, "mailhorn resolve: fatal: %v\n", err)
			code = 1
			continue
		}
		if err := showAddress(ctx, e.stdout, rw, arg, addr, *sender); err != nil {
			fmt.Fprintf(e.stderr, "mailhorn resolve: fatal: %s: %v\n", arg, err)
			code = 1
		}
	}
	return code
}

// parseCLIAddress reads an address as an administrator types it: with or
// without <>, quoted local parts, no domain, UTF-8. It returns the
// internal form.
func parseCLIAddress(s string) (string, error) {
	if s == "<>" {
		return "", nil
	}
	l, err := address.ParseList(s)
	if err != nil {
		return "", err
	}
	if len(l.Entries) != 1 {
		return "", fmt.Errorf("bad address %q: want exactly one address, got %d", s, len(l.Entries))
	}
	a := l.Entries[0].Addr
	if strings.HasPrefix(a.Domain, "[") {
		if err := address.CheckLiteral(a.Domain); err != nil {
			return "", fmt.Errorf("bad address %q: %v", s, err)
		}
	}
	return a.Internal(), nil
}

func showAddress(ctx context.Context, w io.Writer, rw *rewrite.Rewriter, arg, addr string, sender bool) error {
	step := func(name, before, after string) {
		if after != before {
			fmt.Fprintf(w, "  %-11s %s\n", name+":", show(after))
		}
	}
	fmt.Fprintf(w, "%s\n", show(addr))
	canon := rw.Canonicalize(rewrite.Local, addr)
	fmt.Fprintf(w, "  %-11s %s\n", "canonical:", show(canon))
	class := rewrite.EnvelopeRecipient
	if sender {
		class = rewrite.EnvelopeSender
	}
	mapped, err := rw.MapCanonical(ctx, class, canon)
	if err != nil {
		return err
	}
	step("mapped", canon, mapped)
	masq := rw.Masquerade(class, mapped)
	step("masquerade", mapped, masq)
	if sender {
		return nil
	}
	rcpts, err := rw.ExpandVirtual(ctx, masq)
	if err != nil {
		return err
	}
	if len(rcpts) != 1 || rcpts[0] != masq {
		shown := make([]string, len(rcpts))
		for i, r := range rcpts {
			shown[i] = show(r)
		}
		fmt.Fprintf(w, "  %-11s %s\n", "virtual:", strings.Join(shown, ", "))
	}
	for _, rc := range rcpts {
		res, err := rw.Resolve(ctx, "", rc)
		if err != nil {
			return err
		}
		if len(rcpts) > 1 {
			fmt.Fprintf(w, "  %s\n", show(rc))
		}
		fmt.Fprintf(w, "  %-11s %s\n", "class:", res.Class)
		fmt.Fprintf(w, "  %-11s %s\n", "transport:", res.Transport)
		fmt.Fprintf(w, "  %-11s %s\n", "nexthop:", res.Nexthop)
		fmt.Fprintf(w, "  %-11s %s\n", "recipient:", show(res.Recipient))
		if res.Flags != 0 {
			fmt.Fprintf(w, "  %-11s %s\n", "flags:", res.Flags)
		}
	}
	return nil
}

// show prints an internal-form address in external form, <> for null.
func show(internal string) string {
	if internal == "" {
		return "<>"
	}
	local, domain, hasAt := address.SplitInternal(internal)
	if !hasAt {
		return address.QuoteLocal(local)
	}
	return address.QuoteLocal(local) + "@" + domain
}
