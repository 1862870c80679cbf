// Package control is the channel between the server and its runners:
// register, heartbeat and deregister. It runs over a Unix stream socket
// that only the service's user can reach: a socket pair the server passes
// to a native runner as a file descriptor, or, for a container, which
// cannot inherit one, the socket in the service's runtime directory that
// the container mounts. The public TCP listener carries none of it, so
// that no client of the API, however many and however slow, can delay a
// runner's heartbeat.
//
// The protocol is JSON, one object a line: a Request, answered in order
// by an answer with its ID. A runner is authenticated by its per-start
// token, as before; the socket keeps everyone else out.
package control
