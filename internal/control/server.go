package control

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Ops of a Request.
const (
	OpRegister   = "register"
	OpHeartbeat  = "heartbeat"
	OpDeregister = "deregister"
)

// Request is one call of a runner.
type Request struct {
	ID    uint64 `json:"id"`
	Op    string `json:"op"`
	Name  string `json:"name"`
	Token string `json:"token"`
	PID   int    `json:"pid,omitempty"`
}

// answer is the server's reply to the Request with the same ID: Error is
// empty on success; Rejected says that the server refused this runner (an
// unknown runner, a stale token, the server stopping), after which it
// should exit.
type answer struct {
	ID       uint64 `json:"id"`
	Error    string `json:"error,omitempty"`
	Rejected bool   `json:"rejected,omitempty"`
}

// maxLine bounds a request: a name, a token and a number.
const maxLine = 4096

// ErrRejected marks a call the server refused for good; Calls wrap their
// refusals in it, and the client returns it.
var ErrRejected = errors.New("rejected by the server")

// Calls answers the runners' calls: the server's registry of runners. An
// error wrapping ErrRejected is a refusal; any other is an error the
// runner may retry.
type Calls interface {
	Register(name, token string) error
	Heartbeat(name, token string) error
	Deregister(name, token string) error
}

// Serve answers the runner on conn until it closes its end, or sends a
// line that is not a request (then the connection is closed). It closes
// conn. Safe to run for many connections at once.
func Serve(conn net.Conn, calls Calls) {
	defer conn.Close()
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 512), maxLine)
	enc := json.NewEncoder(conn)
	for sc.Scan() {
		var req Request
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			_ = enc.Encode(answer{Error: "not a control request: " + err.Error()})
			return
		}
		a := answer{ID: req.ID}
		if err := dispatch(calls, req); err != nil {
			a.Error, a.Rejected = err.Error(), errors.Is(err, ErrRejected)
		}
		if err := enc.Encode(a); err != nil {
			return // the runner is gone
		}
	}
}

func dispatch(calls Calls, req Request) error {
	switch req.Op {
	case OpRegister:
		return calls.Register(req.Name, req.Token)
	case OpHeartbeat:
		return calls.Heartbeat(req.Name, req.Token)
	case OpDeregister:
		return calls.Deregister(req.Name, req.Token)
	}
	return fmt.Errorf("%w: unknown operation %q", ErrRejected, req.Op)
}

// Listen makes the runners' socket at path and returns its listener. The
// directory holding it is made (0700: the service's user alone reaches
// the socket on this machine); a socket left by an earlier run is
// replaced. The socket itself is 0666, so that a container whose user is
// not the service's can use it where it is mounted. The caller closes the
// listener, which removes the socket.
func Listen(path string) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("making the runners' socket directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("making the runners' socket directory: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("removing the runners' socket of an earlier run: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listening for the runners: %w", err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		return nil, fmt.Errorf("listening for the runners: %w", err)
	}
	return ln, nil
}

// ServeListener serves each connection to ln with Serve until ln is
// closed. Another accept error (out of descriptors) is logged and tried
// again a little later, as net/http does.
func ServeListener(ln net.Listener, calls Calls, log *slog.Logger) {
	for {
		conn, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			log.Error("accepting on the runners' control socket; trying again", "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		go Serve(conn, calls)
	}
}
