//go:build !linux

package notify

import "os"

// Store is a no-op returning false where there is no systemd.
func Store(name string, f *os.File) (bool, error) { return false, nil }
