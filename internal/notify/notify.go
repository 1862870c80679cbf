// Package notify tells systemd about the server's state through the
// sd_notify protocol (READY=1, STATUS=, WATCHDOG=1, STOPPING=1). Without
// NOTIFY_SOCKET, as outside systemd, every call is a silent no-op.
// See sd_notify(3) and systemd.service(5) (Type=notify, WatchdogSec=).
package notify

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier sends sd_notify messages. It is safe for concurrent use. The
// first failure to send is logged; later ones are not, so that a broken
// socket does not flood the journal.
type Notifier struct {
	log      *slog.Logger
	failOnce sync.Once
}

// New returns a Notifier that logs its first send failure to log.
func New(log *slog.Logger) *Notifier { return &Notifier{log: log} }

// Ready says the service is up, with a STATUS= line.
func (n *Notifier) Ready(status string) { n.send("READY=1\nSTATUS=" + status) }

// Status updates the one-line status `systemctl status` shows.
func (n *Notifier) Status(status string) { n.send("STATUS=" + status) }

// Stopping says shutdown has begun.
func (n *Notifier) Stopping() { n.send("STOPPING=1\nSTATUS=stopping") }

// Watchdog pings the watchdog. Call it only after checking that the
// service really works: systemd restarts the service when pings stop.
func (n *Notifier) Watchdog() { n.send("WATCHDOG=1") }

func (n *Notifier) send(state string) {
	// (false, nil) means NOTIFY_SOCKET is unset: not under systemd.
	if _, err := daemon.SdNotify(false, state); err != nil {
		n.failOnce.Do(func() {
			n.log.Error("cannot notify systemd; it may consider the service failed", "err", err)
		})
	}
}

// WatchdogInterval returns how often to ping: half of WATCHDOG_USEC, as
// sd_watchdog_enabled(3) advises. It returns 0 when the watchdog is off or
// meant for another process (WATCHDOG_PID), and an error naming the
// variable when WATCHDOG_USEC is malformed.
func WatchdogInterval() (time.Duration, error) {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0, fmt.Errorf("reading the watchdog settings (check WatchdogSec= in stigmer.service): %w", err)
	}
	return d / 2, nil
}
