package server

import (
	"errors"
	"os"
	"time"

	"github.com/stigmer/stigmer/internal/api"
	"github.com/stigmer/stigmer/internal/history"
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

// Events implements api.Backend: the history since since.
func (s *server) Events(since time.Time) ([]history.Event, error) {
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

// Ready, Register, Heartbeat and Deregister implement api.Backend.
func (s *server) Ready() (bool, string)               { return s.sup.Ready() }
func (s *server) Register(name, token string) error   { return refusal(s.sup.Register(name, token)) }
func (s *server) Heartbeat(name, token string) error  { return refusal(s.sup.Heartbeat(name, token)) }
func (s *server) Deregister(name, token string) error { return refusal(s.sup.Deregister(name, token)) }

// refusal gives the supervisor's registry errors the API's kind; other
// errors (and nil) pass unchanged.
func refusal(err error) error {
	kinds := []struct{ sup, api error }{
		{supervisor.ErrUnknownRunner, api.ErrNotFound},
		{supervisor.ErrUnknownInstance, api.ErrConflict},
		{supervisor.ErrStopping, api.ErrUnavailable},
	}
	for _, k := range kinds {
		if errors.Is(err, k.sup) {
			return &api.Refusal{Kind: k.api, Err: err}
		}
	}
	return err
}
