// Package metrics exposes the server and its runners to Prometheus, reading the supervisor's state at scrape time.
package metrics

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stigmer/stigmer/internal/buildinfo"
	"github.com/stigmer/stigmer/internal/supervisor"
)

// Options are what the metrics are read from. The funcs are called on every
// scrape, from the scrape's goroutine, and must be safe for that.
type Options struct {
	// Info is the binary's build, shown as stigmer_build_info.
	Info buildinfo.Info
	// Started is when the server started.
	Started time.Time
	// Runners returns the runners' state now: the supervisor's Snapshot.
	Runners func() []supervisor.Status
	// Ready, when set, says whether the server is ready now, as /readyz
	// does (stigmer_ready); the reason is not exposed.
	Ready func() (bool, string)
	// History, when set, returns the history store's event counts by kind
	// since the store was created, which outlive server restarts; nil
	// counts and no error while the history is off. When nil or off,
	// stigmer_history_events_total is left out. An error loses that metric
	// for the scrape; the rest is served and the error logged.
	// stigmer_history_up says whether it gave counts.
	History func() (map[string]uint64, error)
	// AlertSends, when set, returns the alert deliveries by sink and
	// result since the history was created (nil and no error while it is
	// off), as stigmer_alert_sends_total.
	AlertSends func() (map[AlertSend]uint64, error)
}

// AlertSend is one label set of stigmer_alert_sends_total: a sink
// ("webhook", "mail") and how the delivery went ("delivered", "failed").
type AlertSend struct{ Sink, Result string }

// NewRegistry returns a private registry (never prometheus.DefaultRegisterer:
// no dependency can add to it unseen) holding the server's collector and the
// process and Go runtime collectors. It panics only on a programming error
// (two collectors describing the same metric), which this package's tests
// would catch.
func NewRegistry(o Options) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		newCollector(o),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	)
	return reg
}

// Handler serves reg's metrics in the format the scraper asks for (the text
// format by default), gzip- or zstd-compressed when it accepts that. Errors
// are written through log as warnings.
func Handler(reg *prometheus.Registry, log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.With("source", "promhttp").Handler(), slog.LevelWarn),
		// A failing source (the history store) loses its own metrics, not
		// the runners' ones, which matter most when something is wrong.
		ErrorHandling: promhttp.ContinueOnError,
		// Counts those errors as promhttp_metric_handler_errors_total.
		Registry: reg,
	})
}

// collector reads Options on every scrape: there is no copy of the
// supervisor's state here that could drift from what status shows.
type collector struct {
	o Options

	buildInfo, serverStart                                      *prometheus.Desc
	runnerUp, runnerStart, restarts, lastExitCode, restartDelay *prometheus.Desc
	historyEvents, historyUp, alertSends, ready                 *prometheus.Desc
}

func newCollector(o Options) *collector {
	runner := []string{"runner"}
	return &collector{
		o: o,
		buildInfo: prometheus.NewDesc("stigmer_build_info",
			"Always 1; the labels describe the running binary.",
			[]string{"version", "revision", "goversion", "goos", "goarch"}, nil),
		serverStart: prometheus.NewDesc("stigmer_server_start_time_seconds",
			"Start time of the server since the Unix epoch in seconds.", nil, nil),
		runnerUp: prometheus.NewDesc("stigmer_runner_up",
			"1 while the runner is registered and heartbeating, else 0 (starting, restarting, hung, stopping).", runner, nil),
		runnerStart: prometheus.NewDesc("stigmer_runner_start_time_seconds",
			"Start time of the runner's current process since the Unix epoch in seconds; absent while none runs.", runner, nil),
		restarts: prometheus.NewDesc("stigmer_runner_restarts_total",
			"Restarts of the runner since the server started, by why the run before ended: exit_code, signal, "+
				"hung (killed: no heartbeat), not_registered (killed: no registration in time), start_failed.",
			[]string{"runner", "reason"}, nil),
		lastExitCode: prometheus.NewDesc("stigmer_runner_last_exit_code",
			"Exit status of the runner's last run, 128+N when signal N ended it; absent before its first exit.", runner, nil),
		restartDelay: prometheus.NewDesc("stigmer_runner_restart_delay_seconds",
			"Backoff the runner waited before its current run; 0 before its first restart.", runner, nil),
		historyEvents: prometheus.NewDesc("stigmer_history_events_total",
			"Lifecycle events in the history store since it was created, by kind; they outlive server restarts.",
			[]string{"kind"}, nil),
		ready: prometheus.NewDesc("stigmer_ready",
			"1 while the server is ready (GET /readyz answers 200: both runners registered and heartbeating), else 0.", nil, nil),
		historyUp: prometheus.NewDesc("stigmer_history_up",
			"1 while the history store records and reads (events, restarts and alert counts are kept), 0 while it is off (stigmer server status says why).", nil, nil),
		alertSends: prometheus.NewDesc("stigmer_alert_sends_total",
			"Alert deliveries by sink (webhook, mail) and result (delivered, failed) since the history was created, from the server and from the report after its death; the journal always gets the alert and is not counted.",
			[]string{"sink", "result"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.buildInfo, c.serverStart,
		c.runnerUp, c.runnerStart, c.restarts, c.lastExitCode, c.restartDelay, c.historyUp} {
		ch <- d
	}
	if c.o.History != nil {
		ch <- c.historyEvents
	}
	if c.o.AlertSends != nil {
		ch <- c.alertSends
	}
	if c.o.Ready != nil {
		ch <- c.ready
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	info := c.o.Info
	ch <- prometheus.MustNewConstMetric(c.buildInfo, prometheus.GaugeValue, 1,
		info.Version, info.Commit, info.GoVersion, info.OS, info.Arch)
	ch <- prometheus.MustNewConstMetric(c.serverStart, prometheus.GaugeValue, unixSeconds(c.o.Started))
	if c.o.Ready != nil {
		ready, _ := c.o.Ready()
		ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, boolValue(ready))
	}

	for _, r := range c.o.Runners() {
		ch <- prometheus.MustNewConstMetric(c.runnerUp, prometheus.GaugeValue, boolValue(r.Up), r.Name)
		if r.StartedAt != nil {
			ch <- prometheus.MustNewConstMetric(c.runnerStart, prometheus.GaugeValue, unixSeconds(*r.StartedAt), r.Name)
		}
		// Every reason, zero or not: a series that appears only at its
		// first restart hides that restart from rate() and increase().
		for _, reason := range supervisor.ExitReasons() {
			ch <- prometheus.MustNewConstMetric(c.restarts, prometheus.CounterValue,
				float64(r.RestartsByReason[reason]), r.Name, string(reason))
		}
		if r.LastExitCode >= 0 {
			ch <- prometheus.MustNewConstMetric(c.lastExitCode, prometheus.GaugeValue, float64(r.LastExitCode), r.Name)
		}
		ch <- prometheus.MustNewConstMetric(c.restartDelay, prometheus.GaugeValue,
			(time.Duration(r.RestartDelayMS) * time.Millisecond).Seconds(), r.Name)
	}

	c.collectHistory(ch)
	c.collectAlertSends(ch)
}

// collectHistory sends the history's event counts, and whether it is up.
func (c *collector) collectHistory(ch chan<- prometheus.Metric) {
	up := 0.0
	defer func() { ch <- prometheus.MustNewConstMetric(c.historyUp, prometheus.GaugeValue, up) }()
	if c.o.History == nil {
		return
	}
	counts, err := c.o.History()
	switch {
	case err != nil:
		ch <- prometheus.NewInvalidMetric(c.historyEvents, fmt.Errorf("reading the history's event counts: %w", err))
		return
	case counts == nil:
		return // off
	}
	up = 1
	for kind, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.historyEvents, prometheus.CounterValue, float64(n), kind)
	}
}

func (c *collector) collectAlertSends(ch chan<- prometheus.Metric) {
	if c.o.AlertSends == nil {
		return
	}
	sends, err := c.o.AlertSends()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.alertSends, fmt.Errorf("reading the alert delivery counts: %w", err))
		return
	}
	for s, n := range sends {
		ch <- prometheus.MustNewConstMetric(c.alertSends, prometheus.CounterValue, float64(n), s.Sink, s.Result)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}
