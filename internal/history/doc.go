// Package history keeps the lifecycle events of the server and its runners
// in a bbolt file in the data directory: durable across kill -9, bounded,
// readable by its owner only. A damaged file never crashes the process
// that opens it: it is checked before bbolt maps it (check.go), bbolt's
// reads run with faults turned into errors, and the server moves a
// damaged file aside and starts a new one (reset.go).
package history
