package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"time"
)

// Socket paths under queue_directory.
const (
	PublicSocket  = "public/showq"
	PrivateSocket = "private/control"
)

// PublicPath and PrivatePath are the sockets of the queue at queueDir.
func PublicPath(queueDir string) string  { return filepath.Join(queueDir, PublicSocket) }
func PrivatePath(queueDir string) string { return filepath.Join(queueDir, PrivateSocket) }

// Client is a Handler that forwards every call to a Server over one
// connection. Calls are serialised.
type Client struct {
	mu   sync.Mutex
	conn net.Conn
	dec  *json.Decoder
}

// Dial connects to the socket at path.
func Dial(ctx context.Context, path string) (*Client, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("control: connect to %s: %w", path, err)
	}
	return &Client{conn: c, dec: json.NewDecoder(c)}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// RemoteError is an error the server answered.
type RemoteError struct{ Text string }

func (e *RemoteError) Error() string { return "mail system: " + e.Text }

// Do sends a request and calls item for each item reply, until the final
// reply, which it returns.
func (c *Client) Do(ctx context.Context, req Request, item func(Reply) error) (Reply, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, err := json.Marshal(req)
	if err != nil {
		return Reply{}, err
	}
	if len(b) >= MaxRequest {
		return Reply{}, fmt.Errorf("control: request of %d bytes is too long", len(b))
	}
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := c.conn.Write(append(b, '\n')); err != nil {
		return Reply{}, c.ioErr(ctx, err)
	}
	for {
		var r Reply
		if err := c.dec.Decode(&r); err != nil {
			return Reply{}, c.ioErr(ctx, err)
		}
		if r.Error != "" {
			return r, &RemoteError{r.Error}
		}
		if r.Done {
			return r, nil
		}
		if item != nil {
			if err := item(r); err != nil {
				return Reply{}, err
			}
		}
	}
}

func (c *Client) ioErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("control: %w", err)
}

// List implements Handler.
func (c *Client) List(ctx context.Context, fn func(Message) error) error {
	_, err := c.Do(ctx, Request{Op: OpList}, func(r Reply) error {
		if r.Message == nil {
			return errors.New("control: list reply without a message")
		}
		return fn(*r.Message)
	})
	return err
}

// Flush implements Handler.
func (c *Client) Flush(ctx context.Context, site string) error {
	_, err := c.Do(ctx, Request{Op: OpFlush, Site: site}, nil)
	return err
}

// Apply implements Handler.
func (c *Client) Apply(ctx context.Context, a Action, fn func(id string)) (int, error) {
	r, err := c.Do(ctx, Request{Op: a.Op, ID: a.ID, All: a.All, Queues: a.Queues}, func(r Reply) error {
		if fn != nil && r.ID != "" {
			fn(r.ID)
		}
		return nil
	})
	return r.Count, err
}

// Purge implements Handler.
func (c *Client) Purge(ctx context.Context, fn func(path string)) (int, error) {
	r, err := c.Do(ctx, Request{Op: OpPurge}, func(r Reply) error {
		if fn != nil && r.Path != "" {
			fn(r.Path)
		}
		return nil
	})
	return r.Count, err
}
