package server

import (
	"errors"
	"fmt"
	"os"

	"github.com/stigmer/stigmer/internal/runfile"
)

// writeRunFiles writes the address and PID files, when asked for. The PID
// file stays locked by this process until it exits (s.pidLock), so that
// `stigmer server stop` can tell this server from a PID that only happens
// to be in the file.
func (s *server) writeRunFiles() error {
	if s.o.AddressFile != "" {
		if _, err := runfile.Write(s.o.AddressFile, s.addr+"\n", false); err != nil {
			return err
		}
	}
	if s.o.PIDFile != "" {
		f, err := runfile.Write(s.o.PIDFile, fmt.Sprint(os.Getpid())+"\n", true)
		if err != nil {
			return err
		}
		s.pidLock = f
	}
	return nil
}

func (s *server) removeRunFiles() {
	for _, p := range []string{s.o.AddressFile, s.o.PIDFile} {
		if p != "" {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				s.o.Log.Warn("removing run file", "path", p, "err", err)
			}
		}
	}
	if s.pidLock != nil {
		s.pidLock.Close() // releases the lock, after the file is gone
	}
}
