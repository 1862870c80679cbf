package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
)

// Client is a runner's end of the channel. Its methods are safe for
// concurrent use; a call that times out leaves the connection usable (its
// late answer is dropped).
type Client struct {
	dial func(ctx context.Context) (net.Conn, error)

	mu      sync.Mutex // guards the fields below
	conn    net.Conn   // nil until dialled, and after it broke
	enc     *json.Encoder
	pending map[uint64]chan answer
	nextID  uint64
}

// Dial is a client of the socket at path (a container's runner), dialled
// at the first call and again after the connection broke: the server may
// be restarting.
func Dial(path string) *Client {
	return &Client{dial: func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
}

// FromFD is a client of the socket pair the server passed as file
// descriptor fd (a native runner). It cannot be dialled again: once the
// server closes its end, every call fails, and the runner gives up as it
// does when the server stays unreachable.
func FromFD(fd int) (*Client, error) {
	f := os.NewFile(uintptr(fd), "control")
	if f == nil {
		return nil, fmt.Errorf("control channel: file descriptor %d is not open", fd)
	}
	conn, err := net.FileConn(f)
	f.Close() // FileConn keeps a duplicate
	if err != nil {
		return nil, fmt.Errorf("control channel: file descriptor %d is not a socket: %w", fd, err)
	}
	var once sync.Once
	return &Client{dial: func(context.Context) (net.Conn, error) {
		c := net.Conn(nil)
		once.Do(func() { c = conn })
		if c == nil {
			return nil, errors.New("the control channel from the server (a socket pair) is closed: the server is gone")
		}
		return c, nil
	}}, nil
}

// Register, Heartbeat and Deregister send the call and wait for its
// answer until ctx ends. A refusal wraps ErrRejected; other errors (no
// connection, a timeout, the server's own failure) may pass.
func (c *Client) Register(ctx context.Context, req Request) error {
	return c.call(ctx, OpRegister, req)
}

// Heartbeat reports that the runner is alive.
func (c *Client) Heartbeat(ctx context.Context, req Request) error {
	return c.call(ctx, OpHeartbeat, req)
}

// Deregister reports that the runner drains and exits.
func (c *Client) Deregister(ctx context.Context, req Request) error {
	return c.call(ctx, OpDeregister, req)
}

func (c *Client) call(ctx context.Context, op string, req Request) error {
	req.Op = op
	ch, err := c.send(ctx, &req)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	select {
	case a, ok := <-ch:
		switch {
		case !ok:
			return fmt.Errorf("%s: the server closed the control connection", op)
		case a.Rejected:
			return fmt.Errorf("%s: %w: %s", op, ErrRejected, strings.TrimPrefix(a.Error, ErrRejected.Error()+": "))
		case a.Error != "":
			return fmt.Errorf("%s: %s", op, a.Error)
		}
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, req.ID)
		c.mu.Unlock()
		return fmt.Errorf("%s: no answer: %w", op, ctx.Err())
	}
}

// send writes req on the connection, dialling it first when needed, and
// returns the channel its answer comes on.
func (c *Client) send(ctx context.Context, req *Request) (chan answer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		conn, err := c.dial(ctx)
		if err != nil {
			return nil, err
		}
		c.conn, c.enc, c.pending = conn, json.NewEncoder(conn), map[uint64]chan answer{}
		go c.read(conn)
	}
	c.nextID++
	req.ID = c.nextID
	ch := make(chan answer, 1)
	c.pending[req.ID] = ch
	deadline, _ := ctx.Deadline()
	_ = c.conn.SetWriteDeadline(deadline)
	if err := c.enc.Encode(req); err != nil {
		c.broken(c.conn)
		return nil, fmt.Errorf("writing to the server: %w", err)
	}
	return ch, nil
}

// read hands each answer on conn to its caller until conn breaks.
func (c *Client) read(conn net.Conn) {
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 512), maxLine)
	for sc.Scan() {
		var a answer
		if json.Unmarshal(sc.Bytes(), &a) != nil {
			break
		}
		c.mu.Lock()
		ch := c.pending[a.ID]
		delete(c.pending, a.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- a
		}
	}
	c.mu.Lock()
	c.broken(conn)
	c.mu.Unlock()
}

// broken drops conn and fails the calls waiting on it; the next call
// dials again. c.mu is held.
func (c *Client) broken(conn net.Conn) {
	if c.conn != conn {
		return
	}
	conn.Close()
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
	c.conn = nil
}

// Close closes the connection.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		c.broken(c.conn)
	}
	return nil
}
