package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: driver gen [flags] | run [flags] | table [-ratio A/B] FILE")
		return 2
	}
	var err error
	switch args[0] {
	case "gen":
		err = genCmd(args[1:], stderr)
	case "run":
		err = runCmd(ctx, args[1:], stderr)
	case "table":
		err = tableCmd(args[1:], stdout, stderr)
	default:
		err = fmt.Errorf("unknown command %q", args[0])
	}
	if err != nil {
		fmt.Fprintf(stderr, "driver %s: fatal: %v\n", args[0], err)
		return 1
	}
	return 0
}
