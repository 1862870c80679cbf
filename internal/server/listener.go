package server

import (
	"fmt"
	"net"
	"os"

	"github.com/stigmer/stigmer/internal/config"
	"github.com/stigmer/stigmer/internal/listen"
	"github.com/stigmer/stigmer/internal/notify"
)

// storeName is the API listener's name in the service's fd store.
const storeName = "api"

// apiListener returns the API's listener. Under systemd the listening
// socket outlives the server: the first start listens and hands a copy to
// the service's file-descriptor store (FileDescriptorStoreMax= in
// stigmer.service); systemd keeps it while it restarts the server after a
// crash, kill -9, watchdog or OOM kill, and passes it to the next start.
// Connections made meanwhile wait in the socket's backlog instead of being
// refused. systemd closes the store when the service stops, so after
// `systemctl stop` nothing listens. Outside systemd it just listens.
func apiListener(o Options) (net.Listener, error) {
	stored := notify.TakeStored()
	var ln net.Listener
	for _, sf := range stored {
		if sf.Name != storeName || ln != nil {
			sf.File.Close() // not ours: keep no stray descriptor open
			continue
		}
		l, err := fromStore(sf.File, o.Config.Listen)
		if err != nil {
			return nil, err
		}
		ln = l
	}
	if ln != nil {
		o.Log.Info("serving on the listening socket systemd kept from the last start", "addr", ln.Addr().String())
		return ln, nil
	}
	ln, err := listen.TCP(o.Config.Listen)
	if err != nil {
		return nil, err
	}
	if err := store(ln); err != nil {
		// The API still works; only a restart will refuse connections.
		o.Log.Warn("cannot hand the listening socket to systemd; connections made while it restarts the server will be refused", "err", err)
	}
	return ln, nil
}

// fromStore turns the stored socket into a listener, refusing one whose
// address is not STIGMER_LISTEN's: a second listener would be silent
// confusion, and only a stop releases the old socket.
func fromStore(f *os.File, want string) (net.Listener, error) {
	defer f.Close() // FileListener keeps a duplicate
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("using the listening socket systemd passed (%s): %w; run `systemctl stop stigmer && systemctl start stigmer` to start with a fresh socket", f.Name(), err)
	}
	if !sameAddr(ln.Addr(), want) {
		ln.Close()
		return nil, &config.Error{Var: "STIGMER_LISTEN", Value: want,
			Fix: "differs from " + ln.Addr().String() + ", the socket systemd kept for the service from an earlier start (a restart keeps it); systemd releases it as this start fails: run `systemctl start stigmer` to listen on the new address (to change it, stop and start rather than restart)"}
	}
	return ln, nil
}

// sameAddr says whether the listener's address is what STIGMER_LISTEN
// asks for; port 0 (any port) matches every port.
func sameAddr(have net.Addr, want string) bool {
	h, ok := have.(*net.TCPAddr)
	if !ok {
		return false
	}
	w, err := net.ResolveTCPAddr("tcp", want)
	if err != nil {
		return false
	}
	if w.Port != 0 && w.Port != h.Port {
		return false
	}
	if w.IP == nil || w.IP.IsUnspecified() {
		return h.IP == nil || h.IP.IsUnspecified()
	}
	return w.IP.Equal(h.IP)
}

// store hands a duplicate of the listening socket to the fd store.
func store(ln net.Listener) error {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return nil
	}
	f, err := tl.File()
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = notify.Store(storeName, f)
	return err
}
