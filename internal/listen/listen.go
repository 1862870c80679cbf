// Package listen opens the API's TCP listener, for the server and the dev server alike.
package listen

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// PortTakenError is a listen address that another process holds.
type PortTakenError struct {
	Addr string
	Err  error
}

func (e *PortTakenError) Error() string {
	_, port, _ := net.SplitHostPort(e.Addr)
	return fmt.Sprintf("cannot listen on %s: address already in use; find its owner with `ss -ltnp 'sport = :%s'` (another stigmer? see `systemctl status stigmer` and `stigmer server status`), stop it, or set STIGMER_LISTEN to a free address", e.Addr, port)
}

func (e *PortTakenError) Unwrap() error { return e.Err }

// TCP opens the API's listener, turning "address in use" into a
// *PortTakenError that says what to do.
func TCP(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, &PortTakenError{Addr: addr, Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	return ln, nil
}
