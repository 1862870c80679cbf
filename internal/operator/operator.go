// Package operator is the server's operator socket: the operations that
// only root and the service's user may use (reading the history, which
// quotes the server's log lines, copying it, sending a test alert) on a
// Unix socket in the runtime directory, each caller checked by the
// credentials the kernel gives for it (SO_PEERCRED, unix(7)), as tailscaled's
// LocalAPI and dockerd's socket do. The socket also serves the public
// API's routes to anyone who reaches it, so that a local command can ask
// the server without trusting whoever answers on the TCP port. The
// command's side of it is peer.Trust.DialUnix.
package operator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"strconv"
	"time"

	"github.com/stigmer/stigmer/internal/peer"
)

// Who may use an operation.
type Who int

const (
	// Anyone who reaches the socket.
	Anyone Who = iota
	// Privileged is root and the service's user.
	Privileged
)

// Op is one operation on the socket. Adding one is adding an Op.
type Op struct {
	// Pattern is the route, as http.ServeMux takes it: "GET /api/v1/events".
	Pattern string
	Who     Who
	// What and Fix are for the refusal: "uid 1000 may not <What>: ...; <Fix>".
	What, Fix string
	Handler   http.Handler
}

// Server is the operator socket, served.
type Server struct {
	ln  net.Listener
	srv *http.Server
}

// credKey is the context key of a connection's peer uid (or its error).
type credKey struct{}

type cred struct {
	uid int
	err error
}

// Listen makes the socket at path (replacing one an earlier run left),
// open to every local user who reaches its directory, and serves ops on
// it, and everything else with fallback (the public API's routes) to
// anyone. serviceUID is the server's own user, who with root may use the
// Privileged ops. The HTTP server's errors go to log.
func Listen(path string, serviceUID int, ops []Op, fallback http.Handler, log *slog.Logger) (*Server, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("removing the operator socket of an earlier run: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listening on the operator socket: %w", err)
	}
	// Who may do what is the server's check, on each connection's
	// credentials; those refused are told so, rather than "permission
	// denied".
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		return nil, fmt.Errorf("listening on the operator socket: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", fallback)
	for _, op := range ops {
		h := op.Handler
		if op.Who == Privileged {
			h = privileged(op, serviceUID)
		}
		mux.Handle(op.Pattern, h)
	}
	s := &Server{ln: ln, srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 3 * time.Second,
		ReadTimeout:       5 * time.Second,
		IdleTimeout:       30 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.With("source", "operator socket").Handler(), slog.LevelWarn),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			uid, err := peer.UnixUID(c.(*net.UnixConn))
			return context.WithValue(ctx, credKey{}, cred{uid, err})
		},
	}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("the operator socket stopped serving", "err", err)
		}
	}()
	return s, nil
}

// Close stops serving within ctx, answering what was asked, and removes
// the socket.
func (s *Server) Close(ctx context.Context) error {
	return s.srv.Shutdown(ctx)
}

// PeerUID is the uid of the process that sent r over the socket, as the
// kernel told it; false when it could not be told.
func PeerUID(r *http.Request) (int, bool) {
	c, ok := r.Context().Value(credKey{}).(cred)
	return c.uid, ok && c.err == nil
}

// privileged serves op to root and the service's user alone.
func privileged(op Op, serviceUID int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Context().Value(credKey{}).(cred)
		switch {
		case c.err != nil:
			refuse(w, fmt.Sprintf("cannot tell who asks (%v), so may not %s; %s", c.err, op.What, op.Fix))
		case c.uid == 0 || c.uid == serviceUID:
			op.Handler.ServeHTTP(w, r)
		default:
			refuse(w, fmt.Sprintf("uid %d may not %s: only %s may; %s", c.uid, op.What, readers(serviceUID), op.Fix))
		}
	})
}

// readers names who may: "root and uid 998 (stigmer), the server's user".
func readers(uid int) string {
	if uid == 0 {
		return "root, the server's user,"
	}
	s := "uid " + strconv.Itoa(uid)
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		s += " (" + u.Username + ")"
	}
	return "root and " + s + ", the server's user,"
}

func refuse(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg}) // a failed write: the caller left
}
