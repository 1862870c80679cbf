// Package supervisor runs the server's runners as child processes and keeps
// them running: it notices an exit at once (a goroutine blocked in Wait, no
// polling), reaps every child, restarts with capped exponential backoff,
// kills a runner whose heartbeats stop, counts each restart under the reason
// its run ended (ExitReason), and on shutdown sends SIGTERM, waits
// a bounded time and SIGKILLs what is left. On Linux children get the
// parent-death signal so that they die with the server even when it is
// SIGKILLed; each is started and reaped on a thread of its own, which
// that signal depends on (child.go).
//
// It knows nothing of HTTP: the API calls Register, Heartbeat and
// Deregister, and reads Snapshot and Ready.
package supervisor
