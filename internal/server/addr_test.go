package server

import (
	"net"
	"testing"

	"gotest.tools/v3/assert"
)

func TestShownAddr(t *testing.T) {
	for _, tc := range []struct {
		configured string
		bound      net.Addr
		want       string
	}{
		{"0.0.0.0:7234", &net.TCPAddr{IP: net.IPv6unspecified, Port: 7234}, "0.0.0.0:7234"},
		{"127.0.0.1:0", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 41234}, "127.0.0.1:41234"},
		{"localhost:0", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 41234}, "localhost:41234"},
		{"[::1]:0", &net.TCPAddr{IP: net.IPv6loopback, Port: 41234}, "[::1]:41234"},
		{"[::]:7234", &net.TCPAddr{IP: net.IPv6unspecified, Port: 7234}, "[::]:7234"},
	} {
		assert.Equal(t, shownAddr(tc.configured, tc.bound), tc.want, tc.configured)
	}
}
