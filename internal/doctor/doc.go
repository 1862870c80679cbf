// Package doctor checks an installed stigmer service the way an operator
// troubleshoots it (the setup guide's Troubleshooting section, and every
// way the VM tests have seen the service fail): the binary, the unit and
// its state, restarts and the last crash, the env file and configuration,
// the user, directories and disk, user namespaces, docker, the port, the
// API, and exposure. Each check gives one verdict and, unless it passed,
// one fix. It only reads: it starts, stops, creates and changes nothing,
// so that it is safe to run at any time, as root or not; what the user
// running it may not read is a skip that says so, never a guess.
package doctor
