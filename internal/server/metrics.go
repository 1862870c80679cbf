package server

import (
	"log/slog"
	"strings"

	"github.com/stigmer/stigmer/internal/config"
	"github.com/stigmer/stigmer/internal/history"
	"github.com/stigmer/stigmer/internal/metrics"
)

// alertSendPrefix names the history tallies of alert deliveries:
// alert-send/SINK/RESULT. The server and the report after its death
// (ExecStopPost, where the most important alert goes out) count into the
// same file, so stigmer_alert_sends_total sees both, across restarts.
const alertSendPrefix = "alert-send/"

// Delivery results, as stigmer_alert_sends_total's result label says them.
const (
	sendDelivered = "delivered"
	sendFailed    = "failed"
)

// tallySends is an alert.Sender's OnResult that counts each delivery in
// the history that store returns (nothing while it is off).
func tallySends(store func() *history.Store, log *slog.Logger) func(sink string, delivered bool) {
	return func(sink string, delivered bool) {
		st := store()
		if st == nil {
			return
		}
		result := sendFailed
		if delivered {
			result = sendDelivered
		}
		if err := st.Tally(alertSendPrefix + sink + "/" + result); err != nil {
			log.Warn("history: alert delivery not counted", "sink", sink, "err", err)
		}
	}
}

// alertSendCounts reads the delivery tallies for /metrics: every sink the
// configuration names, at 0 until it is used (so that increase() sees its
// first failure), and any other sink counted before. No counts and no
// error while the history is off: the metric is left out then.
func alertSendCounts(store func() *history.Store, cfg config.Alerts) func() (map[metrics.AlertSend]uint64, error) {
	return func() (map[metrics.AlertSend]uint64, error) {
		st := store()
		if st == nil {
			return nil, nil
		}
		tallies, err := st.Tallies()
		if err != nil {
			return nil, err
		}
		out := map[metrics.AlertSend]uint64{}
		for _, sink := range configuredSinks(cfg) {
			out[metrics.AlertSend{Sink: sink, Result: sendDelivered}] = 0
			out[metrics.AlertSend{Sink: sink, Result: sendFailed}] = 0
		}
		for name, n := range tallies {
			rest, ok := strings.CutPrefix(name, alertSendPrefix)
			sink, result, ok2 := strings.Cut(rest, "/")
			if ok && ok2 {
				out[metrics.AlertSend{Sink: sink, Result: result}] = n
			}
		}
		return out, nil
	}
}

// configuredSinks are the sinks besides the journal that cfg sends to.
func configuredSinks(cfg config.Alerts) []string {
	var sinks []string
	if cfg.WebhookURL != "" {
		sinks = append(sinks, "webhook")
	}
	if cfg.SMTPServer != "" {
		sinks = append(sinks, "mail")
	}
	return sinks
}

// The kinds of stigmer_history_events_total that count unclean ends, by
// the names metricCounts gives them.
const (
	kindServerRestart = "server-restart" // a start after an unclean end
	kindServerDied    = "server-died"
	kindRunnerCrashed = "runner-crashed"
)

// metricKinds are every kind of stigmer_history_events_total.
var metricKinds = []string{history.ServerStart, history.ServerStop, history.ServerExit, history.RunnerStart,
	history.RunnerExit, history.AlertSent, history.HistoryBroken, history.HistoryRestored, kindServerRestart, kindServerDied, kindRunnerCrashed}

// everyKind shows every kind of event from the first scrape, at 0 until
// one happens: a series that appears only at its first event hides that
// event from increase(), and so from the alert rules (the first crash of
// a server would never fire StigmerServerRestarted).
func everyKind(counts func() (map[string]uint64, error)) func() (map[string]uint64, error) {
	if counts == nil {
		return nil
	}
	return func() (map[string]uint64, error) {
		out, err := counts()
		if out == nil || err != nil {
			return out, err
		}
		for _, k := range metricKinds {
			if _, ok := out[k]; !ok {
				out[k] = 0
			}
		}
		return out, nil
	}
}
