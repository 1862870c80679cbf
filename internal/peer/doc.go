// Package peer tells who serves the other end of a connection on this
// machine, and whether a stigmer command may trust it: the kernel's
// credentials of a Unix socket (SO_PEERCRED, unix(7)), and for TCP the
// owner of the listening socket that accepted the connection, from the
// kernel's socket table (an accepted socket keeps its listener's uid). A
// command trusts root, the service's user and the user running it; anyone
// else may have taken the port or the socket path (after `systemctl stop`,
// or at boot before the service), and what it answers must not reach an
// operator as if stigmer had said it. It does not authenticate anything
// beyond this machine: a server on another host is taken on trust.
package peer
