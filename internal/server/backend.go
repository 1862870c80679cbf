package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/stigmer/stigmer/internal/alert"
	"github.com/stigmer/stigmer/internal/api"
	"github.com/stigmer/stigmer/internal/config"
	"github.com/stigmer/stigmer/internal/control"
	"github.com/stigmer/stigmer/internal/history"
	"github.com/stigmer/stigmer/internal/operator"
	"github.com/stigmer/stigmer/internal/peer"
	"github.com/stigmer/stigmer/internal/supervisor"
)

// This file is the server as the API's backend: it maps the supervisor's
// plain types and errors to the API's wire types, so neither package knows
// the other.

// Status implements api.Backend.
func (s *server) Status() api.Status {
	ready, reason := s.sup.Ready()
	now := time.Now()
	server := api.Component{
		Name: "server", Mode: "native", PID: os.Getpid(), State: "running",
		StartedAt: &s.started, UptimeSeconds: now.Sub(s.started).Seconds(), HeartbeatAgeSeconds: -1,
		Restarts: s.rec.serverRestarts(), LastExit: s.rec.prevEnd,
	}
	if !s.rec.prevAt.IsZero() {
		server.LastExitAt = &s.rec.prevAt
	}
	components := []api.Component{server}
	for _, st := range s.sup.Snapshot() {
		components = append(components, component(st))
	}
	return api.Status{
		Version: s.o.Info.Version, Ready: ready, Reason: reason, Listen: s.addr,
		StartedAt: s.started, UptimeSeconds: now.Sub(s.started).Seconds(),
		Components: components, History: s.rec.state(),
	}
}

// operations are root's operations on the operator socket.
func (s *server) operations() []operator.Op {
	return []operator.Op{{
		Pattern: "GET " + api.PathEvents, Who: operator.Privileged,
		What: "read the history", Fix: "run `sudo stigmer events`",
		Handler: api.EventsHandler(s.events),
	}, {
		Pattern: "GET " + api.PathBackup, Who: operator.Privileged,
		What: "copy the history", Fix: "run `sudo stigmer backup FILE`",
		Handler: api.BackupHandler(s.backup),
	}, {
		Pattern: "POST " + api.PathAlertTest, Who: operator.Privileged,
		What: "send a test alert", Fix: "run `sudo stigmer alert test`",
		Handler: api.AlertTestHandler(s.testAlert),
	}}
}

// backup writes a consistent copy of the history to w (see
// history.Store.Backup); the history found damaged on the way is lost,
// as when an event cannot be written.
func (s *server) backup(w io.Writer) (int64, error) {
	st := s.rec.current()
	if st == nil {
		return 0, errors.New("history " + s.rec.state())
	}
	n, err := st.Backup(w)
	if errors.Is(err, history.ErrDamaged) {
		s.rec.lose(st, err)
	}
	return n, err
}

// testAlert sends a test alert to every sink with the server's own
// configuration, and says how each took it. It goes around the limiter
// and the history (it neither starts an alert interval nor counts as an
// alert); the sender counts its webhook and mail deliveries in
// stigmer_alert_sends_total, as they are deliveries to those sinks.
func (s *server) testAlert(r *http.Request) api.AlertTest {
	who := "an unknown user"
	if uid, ok := operator.PeerUID(r); ok {
		who = peer.Owner(uid)
	}
	a := alert.NewTest(s.o.Info.Version, who)
	s.o.Log.Info("sending a test alert", "by", who)
	out := api.AlertTest{PID: os.Getpid(), UnderSystemd: config.UnderSystemd(os.Getenv)}
	for _, d := range s.rec.alerts.sender.Deliver(r.Context(), a) {
		ad := api.Delivery{Sink: d.Sink, To: d.To, Seconds: d.Took.Seconds()}
		if d.Err != nil {
			ad.Error = d.Err.Error()
		}
		out.Deliveries = append(out.Deliveries, ad)
	}
	return out
}

// events is the history since since.
func (s *server) events(since time.Time) ([]history.Event, error) {
	st := s.rec.current()
	if st == nil {
		return nil, errors.New("history " + s.rec.state())
	}
	return st.Events(since)
}

// component is a runner's status as the API shows it.
func component(st supervisor.Status) api.Component {
	return api.Component{
		Name: st.Name, Mode: st.Mode, PID: st.PID, State: st.State,
		StartedAt: st.StartedAt, UptimeSeconds: st.UptimeSeconds,
		Restarts: st.Restarts, LastExit: st.LastExit, LastExitAt: st.LastExitAt,
		RestartDelayMS: st.RestartDelayMS, HeartbeatAgeSeconds: st.HeartbeatAgeSeconds,
	}
}

// Ready implements api.Backend.
func (s *server) Ready() (bool, string) { return s.sup.Ready() }

// runnerCalls is the supervisor as the control channel's Calls: its
// registry's refusals (an unknown runner, a stale token, the server
// stopping) are control.ErrRejected, after which the runner exits.
type runnerCalls struct{ sup *supervisor.Supervisor }

func (c runnerCalls) Register(name, token string) error { return rejected(c.sup.Register(name, token)) }
func (c runnerCalls) Heartbeat(name, token string) error {
	return rejected(c.sup.Heartbeat(name, token))
}
func (c runnerCalls) Deregister(name, token string) error {
	return rejected(c.sup.Deregister(name, token))
}

// rejected marks the supervisor's registry errors as refusals; other
// errors (and nil) pass unchanged.
func rejected(err error) error {
	for _, refusal := range []error{supervisor.ErrUnknownRunner, supervisor.ErrUnknownInstance, supervisor.ErrStopping} {
		if errors.Is(err, refusal) {
			return fmt.Errorf("%w: %w", control.ErrRejected, err)
		}
	}
	return err
}
