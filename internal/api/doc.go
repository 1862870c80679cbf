// Package api is the server's HTTP API on loopback, both sides of it: the
// handler (health, readiness, status, and the runners' register, heartbeat
// and deregister calls) and the client that runners and `stigmer server
// status` use. Bodies are JSON; errors are {"error": "..."}. The handler
// also routes /metrics, whose handler the caller passes in.
package api
