package api

import (
	"time"

	"github.com/stigmer/stigmer/internal/history"
)

// Paths of the API.
const (
	PathHealth = "/healthz"
	PathReady  = "/readyz"
	PathStatus = "/api/v1/status"
	// PathEvents lists the history; ?since= takes an RFC 3339 time.
	PathEvents  = "/api/v1/events"
	PathMetrics = "/metrics" // Prometheus' conventional path
	// PathBackup is a copy of the history (GET), PathAlertTest sends a
	// test alert (POST): root's operations, on the operator socket only.
	PathBackup    = "/api/v1/history/backup"
	PathAlertTest = "/api/v1/alerts/test"
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
	// History is "on (path)" or "off: why" (newer, damaged, no space).
	History string `json:"history"`
}

// Component is the server itself or one runner.
type Component struct {
	Name          string     `json:"name"`
	Mode          string     `json:"mode"`
	PID           int        `json:"pid"`
	State         string     `json:"state"`
	StartedAt     *time.Time `json:"started_at,omitempty"`
	UptimeSeconds float64    `json:"uptime_seconds"`
	Restarts      int        `json:"restarts"`
	LastExit      string     `json:"last_exit"`
	LastExitAt    *time.Time `json:"last_exit_at,omitempty"`
	// RestartDelayMS is the backoff applied before the current run.
	RestartDelayMS int64 `json:"restart_delay_ms"`
	// HeartbeatAgeSeconds is the time since the last heartbeat, -1 before
	// the first.
	HeartbeatAgeSeconds float64 `json:"heartbeat_age_seconds"`
}

// EventList is the body of GET /api/v1/events, oldest first.
type EventList struct {
	Events []history.Event `json:"events"`
}

// Readiness is the body of GET /readyz.
type Readiness struct {
	Ready  bool   `json:"ready"`
	Reason string `json:"reason,omitempty"`
}

type errorBody struct {
	Error string `json:"error"`
}

// AlertTest is the answer to POST PathAlertTest: how the server's test
// alert went to each sink.
type AlertTest struct {
	PID int `json:"pid"`
	// UnderSystemd is true when systemd runs the server: the alert went
	// out under the unit's sandbox.
	UnderSystemd bool       `json:"under_systemd"`
	Deliveries   []Delivery `json:"deliveries"`
}

// Delivery is one sink's result (see alert.Delivery).
type Delivery struct {
	Sink    string  `json:"sink"`
	To      string  `json:"to"`
	Error   string  `json:"error,omitempty"`
	Seconds float64 `json:"seconds"`
}
