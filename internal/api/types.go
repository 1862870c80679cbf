package api

import (
	"time"

	"github.com/stigmer/stigmer/internal/supervisor"
)

// Paths of the API.
const (
	PathHealth     = "/healthz"
	PathReady      = "/readyz"
	PathStatus     = "/api/v1/status"
	PathRegister   = "/api/v1/runners/register"
	PathHeartbeat  = "/api/v1/runners/heartbeat"
	PathDeregister = "/api/v1/runners/deregister"
)

// Status is the body of GET /api/v1/status.
type Status struct {
	Version       string      `json:"version"`
	Ready         bool        `json:"ready"`
	Reason        string      `json:"reason,omitempty"`
	Listen        string      `json:"listen"`
	StartedAt     time.Time   `json:"started_at"`
	UptimeSeconds float64     `json:"uptime_seconds"`
	Components    []Component `json:"components"`
}

// Component is the server itself or one runner.
type Component = supervisor.Status

// RunnerRequest is the body of the runner calls.
type RunnerRequest struct {
	Name  string `json:"name"`
	Token string `json:"token"`
	PID   int    `json:"pid"`
}

// Readiness is the body of GET /readyz.
type Readiness struct {
	Ready  bool   `json:"ready"`
	Reason string `json:"reason,omitempty"`
}

type errorBody struct {
	Error string `json:"error"`
}
