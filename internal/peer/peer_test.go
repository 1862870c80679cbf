package peer

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/stigmer/stigmer/internal/portowner"
)

func TestTrustNamesTheOwnerAndWhoIsTrusted(t *testing.T) {
	tr := Trust{0: "root", 998: "stigmer"}
	assert.NilError(t, tr.check(998, "the socket /run/stigmer/stigmer.sock"))
	err := tr.check(4242, "the listening socket at 127.0.0.1:7234")
	assert.Assert(t, errors.Is(err, ErrUntrusted))
	assert.ErrorContains(t, err, "the listening socket at 127.0.0.1:7234 belongs to uid 4242, not to root or stigmer, so it is not the stigmer server")
}

// A server this process runs itself, on TCP and on a Unix socket, is
// trusted: its owner is found and is this user.
func TestOwnServerIsTrusted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	c, err := Trusted().DialTCP(portowner.Proc{Root: "/proc"})(t.Context(), "tcp", addr)
	assert.NilError(t, err)
	uid, err := TCPOwner(c, portowner.Proc{Root: "/proc"})
	assert.NilError(t, err, "the server end of a connection on this machine is in its socket table")
	_, trusted := Trusted()[uid]
	assert.Assert(t, trusted)
	c.Close()

	path := t.TempDir() + "/s.sock"
	ln, err := net.Listen("unix", path)
	assert.NilError(t, err)
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err = Trusted().DialUnix(path)(t.Context(), "", "")
	assert.NilError(t, err)
	c.Close()
}
