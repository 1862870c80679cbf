package notify

import (
	"os"

	"github.com/coreos/go-systemd/v22/activation"
)

// StoredFile is a file descriptor that systemd passed back from the
// service's file-descriptor store (LISTEN_FDS=, LISTEN_FDNAMES=).
type StoredFile struct {
	Name string
	File *os.File
}

// TakeStored returns the descriptors systemd passed to this process, and
// unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES so that no child sees
// them. The descriptors are made close-on-exec (systemd passes them
// inheritable), so no child gets them either. Outside systemd, or when the
// variables are for another process (LISTEN_PID), it returns nothing.
func TakeStored() []StoredFile {
	var out []StoredFile
	for _, f := range activation.Files(true) {
		out = append(out, StoredFile{Name: f.Name(), File: f})
	}
	return out
}
