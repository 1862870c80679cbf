// Package api is the server's public HTTP API, on loopback by default,
// both sides of it: the handler (health, readiness, status) and the client
// that `stigmer server status` and doctor use. The runners' calls are not
// here: they go over the control channel (package control), which no
// client of this API can reach or slow down. Bodies are JSON; errors are
// {"error": "..."}. The handler also routes /metrics, whose handler the
// caller passes in.
package api
