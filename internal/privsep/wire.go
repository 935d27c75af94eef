package privsep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"mailhorn/internal/deliver"
)

// The protocol between the mail system (child, mail_owner) and the
// privileged parent runs over a SOCK_SEQPACKET socket pair, one message per
// request. Each request message carries the JSON-encoded Request and two
// file descriptors (SCM_RIGHTS): the parent's end of a new socket pair on
// which the one JSON-encoded Result comes back, and the read end of a pipe
// on which the child writes the message content. The child opens the queue
// file itself: the parent never opens a file by a name the less trusted
// side gave it, and the helper, which runs as the recipient, sees the
// content but not the envelope records (other recipients, Bcc). Closing
// the reply socket cancels the delivery.

// SocketPair returns two connected SOCK_SEQPACKET sockets (close-on-exec):
// one for the parent, one for the child to inherit.
func SocketPair() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "privsep-parent"), os.NewFile(uintptr(fds[1]), "privsep-child"), nil
}

func unixConn(f *os.File) (*net.UnixConn, error) {
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, errors.New("not a unix socket")
	}
	return uc, nil
}

// Client is the Runner of the unprivileged mail system: it sends each
// request to the privileged parent.
type Client struct {
	conn *net.UnixConn
}

// NewClient makes a client of the parent socket f (the child's end of
// SocketPair, usually inherited).
func NewClient(f *os.File) (*Client, error) {
	c, err := unixConn(f)
	if err != nil {
		return nil, fmt.Errorf("privsep socket: %w", err)
	}
	return &Client{conn: c}, nil
}

// Close closes the connection to the parent.
func (c *Client) Close() error { return c.conn.Close() }

// Run implements Runner.
func (c *Client) Run(ctx context.Context, req *Request) (Result, error) {
	data, err := json.Marshal(req)
	if err != nil {
		return Result{}, fmt.Errorf("encode request: %w", err)
	}
	if len(data) > maxMessage {
		return Resultf(deliver.Bounced, "5.3.4", "delivery request too large (%d bytes)", len(data)), nil
	}
	replyParent, replyChild, err := SocketPair()
	if err != nil {
		return Result{}, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		replyParent.Close()
		replyChild.Close()
		return Result{}, fmt.Errorf("content pipe: %w", err)
	}
	_, _, err = c.conn.WriteMsgUnix(data, unix.UnixRights(int(replyParent.Fd()), int(pr.Fd())), nil)
	replyParent.Close()
	pr.Close()
	if err != nil {
		replyChild.Close()
		pw.Close()
		return Result{}, fmt.Errorf("send request to the privileged parent: %w", err)
	}
	reply, err := unixConn(replyChild)
	if err != nil {
		pw.Close()
		return Result{}, err
	}
	defer reply.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if req.Content != nil {
			io.Copy(pw, req.Content) // a reader that stopped early is not our problem: the result says
		}
		pw.Close()
	}()
	defer func() {
		pw.Close() // unblocks the copy if the reader went away
		wg.Wait()
	}()
	stop := context.AfterFunc(ctx, func() { reply.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, maxMessage)
	n, err := reply.Read(buf)
	if err != nil {
		if ctx.Err() != nil {
			return Resultf(deliver.Deferred, "4.3.0", "delivery interrupted: %v", ctx.Err()), nil
		}
		return Result{}, fmt.Errorf("read result from the privileged parent: %w", err)
	}
	var res Result
	if err := json.Unmarshal(buf[:n], &res); err != nil || res.Status == 0 {
		return Result{}, fmt.Errorf("bad result from the privileged parent: %q", buf[:min(n, 200)])
	}
	return res, nil
}

// Serve answers the requests arriving on conn (the parent's end of
// SocketPair) with r, each in its own goroutine, until conn is closed by
// the other side or ctx is done; it waits for running deliveries.
func Serve(ctx context.Context, conn *os.File, r Runner) error {
	uc, err := unixConn(conn)
	if err != nil {
		return fmt.Errorf("privsep socket: %w", err)
	}
	defer uc.Close()
	stop := context.AfterFunc(ctx, func() { uc.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	buf := make([]byte, maxMessage+1)
	oob := make([]byte, unix.CmsgSpace(4*4))
	for {
		n, oobn, flags, _, err := uc.ReadMsgUnix(buf, oob)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return nil // stopped, or the child closed its end
			}
			return fmt.Errorf("read request: %w", err)
		}
		if n == 0 && oobn == 0 {
			return nil // the child closed its end
		}
		files := receivedFiles(oob[:oobn])
		if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 || len(files) != 2 || n > maxMessage {
			for _, f := range files {
				f.Close()
			}
			continue
		}
		data := append([]byte(nil), buf[:n]...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			serveOne(ctx, r, data, files[0], files[1])
		}()
	}
}

func receivedFiles(oob []byte) []*os.File {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var out []*os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
			out = append(out, os.NewFile(uintptr(fd), "privsep-fd"))
		}
	}
	return out
}

// serveOne runs one request and sends its result on replyFile. The reply
// socket closing (the child gave up) cancels the delivery.
func serveOne(ctx context.Context, r Runner, data []byte, replyFile, content *os.File) {
	defer content.Close()
	reply, err := unixConn(replyFile)
	if err != nil {
		return
	}
	defer reply.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		var b [1]byte
		reply.Read(b[:]) // returns when the child closes its end
		cancel()
	}()
	var res Result
	var req Request
	if err := json.Unmarshal(data, &req); err != nil {
		res = Resultf(deliver.Deferred, "4.3.5", "mail system configuration error: bad delivery request: %v", err)
	} else {
		req.Content = content
		var rerr error
		res, rerr = r.Run(ctx, &req)
		if rerr != nil {
			res = Resultf(deliver.Deferred, "4.3.0", "privileged delivery failed: %v", rerr)
		}
	}
	out, _ := json.Marshal(res)
	reply.Write(out)
}
