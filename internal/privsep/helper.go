package privsep

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"mailhorn/internal/deliver"
)

// Helper is the body of the hidden helper subcommand: it reads one
// request from reqFile (written by the Spawner), takes the content from
// content, performs the delivery with the rights it was started with and
// writes the result to out. It never runs as root except for root's own
// mailbox. The exit status is 0 once a result was written.
func Helper(ctx context.Context, reqFile io.Reader, content io.Reader, out io.Writer) error {
	// The recipient may not ptrace us: we hold the privileged parent's
	// pipes.
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	data, err := io.ReadAll(io.LimitReader(reqFile, maxMessage+1))
	if err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	if len(data) > maxMessage {
		return fmt.Errorf("request larger than %d bytes", maxMessage)
	}
	var req Request
	if err := json.Unmarshal(data, &req); err != nil {
		return fmt.Errorf("decode request: %w", err)
	}
	var res Result
	switch err := req.Check(); {
	case err != nil:
		res = Resultf(deliver.Deferred, "4.3.5", "mail system configuration error: %v", err)
	case os.Geteuid() != req.As.UID:
		res = Resultf(deliver.Deferred, "4.3.0", "delivery helper runs as uid %d, not %d", os.Geteuid(), req.As.UID)
	default:
		req.Content = content
		var x executor
		res = x.execute(ctx, &req)
	}
	return json.NewEncoder(out).Encode(res)
}
