// Package server is `stigmer internal-server`: it serves the HTTP API on
// loopback, supervises the runners (over their control channels, see
// package control), speaks to systemd and stops in order on SIGTERM. One
// file per job:
//   - server.go: Run, the lifecycle from listening to the orderly stop;
//   - backend.go: the server as the API's backend (wire types) and as the
//     runners' (their refusals);
//   - http.go: the HTTP server's limits (timeouts, connections);
//   - connlimit.go: the public listener, its slots shared between peers;
//   - systemd.go: READY=, STATUS= and the watchdog's health loop, in process;
//   - runners.go: what the runners are and the environment they get;
//   - history.go, stopped.go: the history and the alerts;
//   - runfiles.go: the address and PID files.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/stigmer/stigmer/internal/api"
	"github.com/stigmer/stigmer/internal/buildinfo"
	"github.com/stigmer/stigmer/internal/config"
	"github.com/stigmer/stigmer/internal/control"
	"github.com/stigmer/stigmer/internal/metrics"
	"github.com/stigmer/stigmer/internal/notify"
	"github.com/stigmer/stigmer/internal/operator"
	"github.com/stigmer/stigmer/internal/supervisor"
)

// Options are what the command line adds to the configuration.
type Options struct {
	Info   buildinfo.Info
	Config *config.Config
	Log    *slog.Logger
	// Executable is the binary the runners are started from (os.Executable).
	Executable string
	// AddressFile, when set, receives the address the API listens on (dev
	// mode and tests listen on port 0). PIDFile receives the server's PID.
	AddressFile, PIDFile string
	// Hurry, when it closes during the stop, makes the stop immediate:
	// the runners get SIGKILL (a second Ctrl-C or SIGTERM).
	Hurry <-chan struct{}
}

// Run serves until ctx is done, then stops the runners and returns nil; an
// error means the server could not start or its API failed.
func Run(ctx context.Context, o Options) error {
	ln, err := apiListener(o)
	if err != nil {
		return err
	}
	if host, _, _ := net.SplitHostPort(o.Config.Listen); !config.IsLoopback(host) {
		o.Log.Warn("the API listens beyond loopback, without authentication: anyone who can reach it can read the status and metrics; keep it behind a firewall or an authenticating proxy",
			"addr", ln.Addr().String(), "opted_in_by", config.AllowNonLoopbackVar+"=1")
	}
	s := newServer(o, shownAddr(o.Config.Listen, ln.Addr()))
	if err := s.writeRunFiles(); err != nil {
		ln.Close()
		return err
	}
	defer s.removeRunFiles()
	return s.serve(ctx, ln)
}

// shownAddr is the listen address as the operator wrote it, with the port
// the listener got (STIGMER_LISTEN may say 0): Go reports a listener on
// 0.0.0.0 as [::], and status, STATUS=, the logs and the address file
// should say what was configured. Every form is one a client on this
// machine can dial.
func shownAddr(configured string, bound net.Addr) string {
	host, _, err := net.SplitHostPort(configured)
	_, port, perr := net.SplitHostPort(bound.String())
	if err != nil || perr != nil {
		return bound.String()
	}
	return net.JoinHostPort(host, port)
}

type server struct {
	o       Options
	addr    string
	started time.Time
	notify  *notify.Notifier
	sup     *supervisor.Supervisor
	rec     *record

	pidLock *os.File // holds the PID file's lock, see writeRunFiles

	mu        sync.Mutex // guards readySent and lastStatus
	readySent bool
	lastStat  string
}

func newServer(o Options, addr string) *server {
	s := &server{o: o, addr: addr, started: time.Now(), notify: notify.New(o.Log)}
	s.rec = openRecord(s)
	s.sup = supervisor.New(supervisor.Options{
		Log:             o.Log,
		Stdout:          os.Stdout,
		Stderr:          os.Stderr,
		Output:          runnerOutput(),
		RestartMaxDelay: o.Config.RestartMaxDelay,
		Control:         func(conn net.Conn) { control.Serve(conn, runnerCalls{s.sup}) },
		OnChange:        s.stateChanged,
		OnLifecycle:     s.rec.runner,
	}, s.runnerSpecs()...)
	return s
}

func (s *server) serve(ctx context.Context, ln net.Listener) (err error) {
	s.rec.started()
	defer func() { s.rec.stopped(err) }()
	if s.o.Config.AgentImage != "" {
		// A container cannot inherit a socket pair: it mounts the
		// runners' socket. Closed once the runners are stopped.
		ctl, err := control.Listen(s.runnerSocket())
		if err != nil {
			ln.Close()
			return err
		}
		defer ctl.Close()
		go control.ServeListener(ctl, runnerCalls{s.sup}, s.o.Log)
	}
	limits := defaultHTTPLimits()
	cl := newConnLimit(ln, limits.MaxConns, s.o.Log)
	metricsHandler := metrics.Handler(metrics.NewRegistry(metrics.Options{
		Info: s.o.Info, Started: s.started, Runners: s.sup.Snapshot, Ready: s.sup.Ready,
		History: everyKind(s.rec.metricCounts()), AlertSends: alertSendCounts(s.rec.current, s.o.Config.Alerts),
	}), s.o.Log)
	public := api.Handler(s, metricsHandler)
	apiHandler := api.CheckHost(public, s.o.Config.AllowedHosts, s.addr, s.o.Config.Listen)
	httpSrv := newHTTPServer(apiHandler, s.o.Log, limits, cl)
	ops, err := operator.Listen(filepath.Join(s.o.Config.RuntimeDir, config.OperatorSocket), os.Geteuid(), s.operations(), public, s.o.Log)
	if err != nil {
		ln.Close()
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(cl) }()
	s.o.Log.Info("server listening", "addr", s.addr, "version", s.o.Info.Version, "data_dir", s.o.Config.DataDir,
		"llm_provider", s.o.Config.LLM.Provider, "agent_runner", s.agentMode(), "max_connections", limits.MaxConns)

	supCtx, stopRunners := context.WithCancel(context.Background())
	supDone := make(chan struct{})
	go func() { s.sup.Run(supCtx); close(supDone) }()
	healthDone := make(chan struct{})
	healthCtx, stopHealth := context.WithCancel(ctx)
	go func() { s.healthLoop(healthCtx, cl, apiHandler); close(healthDone) }()
	go s.rec.summaries(healthCtx)
	keepDone := make(chan struct{})
	go func() { s.rec.keepOpen(healthCtx); close(keepDone) }()
	s.stateChanged()

	select {
	case <-ctx.Done():
		s.o.Log.Info("server stopping", "signal", context.Cause(ctx))
	case err = <-serveErr:
		err = fmt.Errorf("serving the API on %s: %w", s.addr, err)
		s.o.Log.Error("server failing", "err", err)
	}
	// Stop accepting work (readiness goes false, registrations are
	// refused), then stop the runners, which deregister over their
	// control channels, then close the API, answering what it accepted.
	s.notify.Stopping()
	s.sup.BeginStop()
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-s.o.Hurry:
			s.o.Log.Warn("second signal: stopping now, the runners get SIGKILL")
			s.sup.Hurry()
		case <-stopped:
		}
	}()
	stopHealth()
	<-healthDone
	<-keepDone
	stopRunners()
	<-supDone
	stopAPI(httpSrv, cl, s.o.Log)
	closeOperator(ops, s.o.Log)
	s.o.Log.Info("server stopped")
	return err
}
