//go:build !linux

package main

import "errors"

// becomeSubreaper fails: the process tests read /proc and rely on Linux's
// child subreaper, so they run on Linux only. This file lets the package
// compile (and be vetted) for other systems.
func becomeSubreaper() error {
	return errors.New("the process tests need Linux (PR_SET_CHILD_SUBREAPER and /proc)")
}
