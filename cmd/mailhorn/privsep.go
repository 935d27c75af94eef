package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"mailhorn/internal/privsep"
)

// runPrivsepHelper is the hidden helper the privileged parent starts, with
// the recipient's uid and gid, for one delivery: the request on fd 3, the
// message content on stdin, the result on stdout (privsep.Helper). It is
// not meant to be run by hand.
func runPrivsepHelper(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("mailhorn "+privsep.HelperCommand, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.String("c", "", "configuration directory (unused)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return 64 // EX_USAGE
	}
	req := os.NewFile(3, "request")
	if req == nil {
		fmt.Fprintln(e.stderr, "mailhorn: fatal: no request descriptor (this command is started by the mail system)")
		return 64
	}
	defer req.Close()
	if err := privsep.Helper(ctx, req, e.stdin, e.stdout); err != nil {
		fmt.Fprintf(e.stderr, "mailhorn: fatal: %v\n", err)
		return 75 // EX_TEMPFAIL
	}
	return 0
}
