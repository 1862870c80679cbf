// Package server runs `stigmer internal-server`: the HTTP API on loopback,
// the supervised runners, the systemd notifications (READY=1 once the API
// listens and both runners registered, STATUS=, WATCHDOG=1 from a health
// loop, STOPPING=1) and the orderly shutdown on SIGTERM.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/stigmer/stigmer/internal/api"
	"github.com/stigmer/stigmer/internal/buildinfo"
	"github.com/stigmer/stigmer/internal/config"
	"github.com/stigmer/stigmer/internal/container"
	"github.com/stigmer/stigmer/internal/listen"
	"github.com/stigmer/stigmer/internal/logging"
	"github.com/stigmer/stigmer/internal/notify"
	"github.com/stigmer/stigmer/internal/runfile"
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
	ln, err := listen.TCP(o.Config.Listen)
	if err != nil {
		return err
	}
	if host, _, _ := net.SplitHostPort(o.Config.Listen); !config.IsLoopback(host) {
		o.Log.Warn("the API listens beyond loopback, without authentication: anyone who can reach it can read the status and act as a runner; keep it behind a firewall or an authenticating proxy",
			"addr", ln.Addr().String(), "opted_in_by", config.AllowNonLoopbackVar+"=1")
	}
	s := newServer(o, ln.Addr().String())
	if err := s.writeRunFiles(); err != nil {
		ln.Close()
		return err
	}
	defer s.removeRunFiles()
	return s.serve(ctx, ln)
}

type server struct {
	o       Options
	addr    string
	started time.Time
	notify  *notify.Notifier
	sup     *supervisor.Supervisor

	pidLock *os.File // holds the PID file's lock, see writeRunFiles

	mu        sync.Mutex // guards readySent and lastStatus
	readySent bool
	lastStat  string
}

func newServer(o Options, addr string) *server {
	s := &server{o: o, addr: addr, started: time.Now(), notify: notify.New(o.Log)}
	s.sup = supervisor.New(supervisor.Options{
		Log:             o.Log,
		Env:             s.runnerEnv(),
		Stdout:          os.Stdout,
		Stderr:          os.Stderr,
		Output:          runnerOutput(),
		RestartMaxDelay: o.Config.RestartMaxDelay,
		OnChange:        s.stateChanged,
	}, s.runnerSpecs()...)
	return s
}

func (s *server) serve(ctx context.Context, ln net.Listener) error {
	limits := defaultHTTPLimits()
	cl := newConnLimit(ln, limits.MaxConns)
	httpSrv := newHTTPServer(api.CheckHost(api.Handler(s), s.addr, s.o.Config.Listen), s.o.Log, limits, cl)
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(cl) }()
	s.o.Log.Info("server listening", "addr", s.addr, "version", s.o.Info.Version, "data_dir", s.o.Config.DataDir,
		"llm_provider", s.o.Config.LLM.Provider, "agent_runner", s.agentMode(), "max_connections", limits.MaxConns)

	supCtx, stopRunners := context.WithCancel(context.Background())
	supDone := make(chan struct{})
	go func() { s.sup.Run(supCtx); close(supDone) }()
	healthDone := make(chan struct{})
	healthCtx, stopHealth := context.WithCancel(ctx)
	go func() { s.healthLoop(healthCtx); close(healthDone) }()
	s.stateChanged()

	var err error
	select {
	case <-ctx.Done():
		s.o.Log.Info("server stopping", "signal", context.Cause(ctx))
	case err = <-serveErr:
		err = fmt.Errorf("serving the API on %s: %w", s.addr, err)
		s.o.Log.Error("server failing", "err", err)
	}
	// Stop accepting work (readiness goes false, registrations are
	// refused), then stop the runners while the API still answers their
	// deregistration, then close the API.
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
	stopRunners()
	<-supDone
	shutCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if shutErr := httpSrv.Shutdown(shutCtx); shutErr != nil {
		s.o.Log.Warn("closing the API", "err", shutErr)
	}
	s.o.Log.Info("server stopped")
	return err
}

// stateChanged keeps STATUS= current and sends READY=1 the first time
// both runners are registered. It is called from the supervisor.
func (s *server) stateChanged() {
	ready, _ := s.sup.Ready()
	s.mu.Lock()
	defer s.mu.Unlock()
	line := s.statusLine(ready)
	switch {
	case ready && !s.readySent:
		s.readySent = true
		s.notify.Ready(line)
		s.o.Log.Info("server ready", "addr", s.addr, "startup", time.Since(s.started).Round(time.Millisecond).String())
	case line != s.lastStat:
		s.notify.Status(line)
	}
	s.lastStat = line
}

// statusLine is STATUS=: "ready on 127.0.0.1:7234; workflow-runner up,
// agent-runner up; restarts 0/0".
func (s *server) statusLine(ready bool) string {
	word := "ready"
	switch {
	case !ready && !s.readySent:
		word = "starting"
	case !ready:
		word = "degraded"
	}
	return fmt.Sprintf("%s on %s; %s", word, s.addr, s.sup.Summary())
}

// healthLoop pings the watchdog only after the supervisor's loops and the
// API have answered: a stuck server stops pinging and systemd restarts it.
func (s *server) healthLoop(ctx context.Context) {
	interval, err := notify.WatchdogInterval()
	if err != nil {
		s.o.Log.Error("watchdog disabled", "err", err)
	}
	if interval <= 0 {
		return
	}
	s.o.Log.Info("watchdog enabled", "ping_every", interval.String())
	client := api.NewClient("http://" + s.addr)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := s.healthy(ctx, client, interval); err != nil {
			s.o.Log.Warn("health check failed; not pinging the watchdog", "err", err)
			continue
		}
		s.notify.Watchdog()
	}
}

func (s *server) healthy(ctx context.Context, client *api.Client, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	if err := s.sup.Ping(ctx); err != nil {
		return err
	}
	if _, err := client.Ready(ctx); err != nil {
		return fmt.Errorf("API does not answer: %w", err)
	}
	return nil
}

// runnerEnv is the runners' environment: the server's own without
// systemd's notify and watchdog variables (runners must not speak for the
// service), plus where the API is.
func (s *server) runnerEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
			"STIGMER_RUNNER_TOKEN", "STIGMER_SERVER_URL", "STIGMER_HEARTBEAT_INTERVAL":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "STIGMER_SERVER_URL=http://"+s.addr)
}

// runnerOutput gives each runner its own journal stream under systemd, so
// that a runner's panic trace or a container's output is tagged
// stigmer-<runner> in the journal, like the runner's own log entries. Outside
// the journal runners share the server's stderr (the dev log file).
func runnerOutput() func(string) (*os.File, string, error) {
	if !logging.UnderJournal() {
		return nil
	}
	return func(runner string) (*os.File, string, error) {
		return logging.JournalStream(logging.Identifier(runner))
	}
}

// Runner names; the process titles are internal-<name>.
const (
	WorkflowRunner = "workflow-runner"
	AgentRunner    = "agent-runner"
)

func (s *server) runnerSpecs() []supervisor.Spec {
	native := func(name string) func() *exec.Cmd {
		return func() *exec.Cmd { return exec.Command(s.o.Executable, "internal-"+name) }
	}
	specs := []supervisor.Spec{{Name: WorkflowRunner, Mode: "native", Command: native(WorkflowRunner)}}
	if s.o.Config.AgentImage == "" {
		return append(specs, supervisor.Spec{Name: AgentRunner, Mode: "native", Command: native(AgentRunner)})
	}
	rt := container.Runtime{
		CLI: s.o.Config.ContainerCLI, Image: s.o.Config.AgentImage,
		EnvNames: []string{"STIGMER_SERVER_URL", "STIGMER_RUNNER_TOKEN", "STIGMER_HEARTBEAT_INTERVAL",
			"STIGMER_LLM_PROVIDER", "STIGMER_LLM_MODEL", "STIGMER_LLM_BASE_URL", "OPENAI_API_KEY"},
	}
	return append(specs, supervisor.Spec{Name: AgentRunner, Mode: "container", Command: rt.Command, Prepare: rt.RemoveStale})
}

func (s *server) agentMode() string {
	if s.o.Config.AgentImage == "" {
		return "native"
	}
	return "container " + s.o.Config.AgentImage
}

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
