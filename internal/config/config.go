// Package config reads and checks the server's configuration from the
// environment, the way the systemd unit's env file provides it. It does not
// read files itself: systemd (EnvironmentFile=) or the shell does that.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ExitCode is the process exit code for a configuration error: EX_CONFIG
// from sysexits.h. The unit lists it in RestartPreventExitStatus= so that
// systemd does not restart-loop on a value only an admin can fix.
const ExitCode = 78

// Defaults.
const (
	DefaultListen        = "127.0.0.1:7234"
	DefaultSystemDataDir = "/var/lib/stigmer"
	DefaultSystemLogDir  = "/var/log/stigmer"
	// DefaultSystemRuntimeDir is the unit's RuntimeDirectory=: systemd
	// makes it at each start and removes it at each stop.
	DefaultSystemRuntimeDir = "/run/stigmer"
	DefaultContainerCLI     = "docker"
	DefaultRestartMaxDelay  = 30 * time.Second
	// MinRestartMaxDelay is the smallest backoff cap accepted.
	MinRestartMaxDelay = time.Second
)

// Config is the checked configuration of the server and its runners.
type Config struct {
	Listen  string
	DataDir string
	LogDir  string
	// RuntimeDir holds the server's Unix sockets (see OperatorSocket and
	// RunnerSocket).
	RuntimeDir      string
	LLM             LLM
	AgentImage      string        // empty: the agent runner runs natively
	ContainerCLI    string        // docker or a compatible CLI (podman)
	RestartMaxDelay time.Duration // cap of the runner restart backoff
	// AllowNonLoopback is STIGMER_ALLOW_NON_LOOPBACK=1: the operator chose
	// to let Listen be a non-loopback address.
	AllowNonLoopback bool
	// AllowedHosts are STIGMER_ALLOWED_HOSTS: names the API answers to
	// besides its own address (see CheckHost in package api).
	AllowedHosts []AllowedHost
	// Alerts are the STIGMER_ALERT_* settings, see LoadAlerts.
	Alerts Alerts
}

// LLM is the model provider the runners use.
type LLM struct {
	Provider string // "", "openai" or "ollama"
	Model    string
	BaseURL  string
	APIKey   string // OPENAI_API_KEY; never logged, see Mask
}

// Error is a configuration value that is wrong. Its message names the
// variable, shows the value (masked when secret) and says how to fix it.
type Error struct {
	Var   string
	Value string
	Fix   string
}

func (e *Error) Error() string {
	value := e.Value
	if IsSecret(e.Var) {
		value = Mask(value)
	}
	return fmt.Sprintf("%s=%q %s (set it in /etc/default/stigmer or /etc/sysconfig/stigmer, or the environment)", e.Var, value, e.Fix)
}

// IsSecret reports whether the variable name holds a secret that is never
// shown in full, in errors, logs or status (see Mask).
func IsSecret(name string) bool {
	return slices.ContainsFunc(vars, func(v Var) bool { return v.Name == name && v.Secret })
}

// Getenv looks a variable up; tests pass a map, the binary os.Getenv.
type Getenv func(string) string

// UnderSystemd reports whether the process was started by systemd as a
// service: systemd sets INVOCATION_ID for every unit it starts (since 232).
func UnderSystemd(getenv Getenv) bool { return getenv("INVOCATION_ID") != "" }

// Home is $STIGMER_HOME, or ~/.stigmer: where the dev server keeps its PID
// file, address file and logs, and its data when not under systemd. A
// relative STIGMER_HOME is an *Error naming STIGMER_HOME.
func Home(getenv Getenv) (string, error) {
	if h := getenv("STIGMER_HOME"); h != "" {
		if !filepath.IsAbs(h) {
			return "", &Error{Var: "STIGMER_HOME", Value: h, Fix: "is not an absolute path; use for example " + filepath.Join("/home/you", ".stigmer")}
		}
		return h, nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", &Error{Var: "STIGMER_HOME", Value: "", Fix: "is unset and so is HOME; set STIGMER_HOME to a directory stigmer may write"}
	}
	if !filepath.IsAbs(home) {
		return "", &Error{Var: "HOME", Value: home, Fix: "is not an absolute path, and STIGMER_HOME is unset; set STIGMER_HOME to an absolute path"}
	}
	return filepath.Join(home, ".stigmer"), nil
}

// Load reads the configuration and checks every value, returning the first
// *Error found. Only when every check passed does it create the data and
// log directories that are missing and prove them writable, so that a bad
// path fails at start, not later, and a bad value leaves nothing behind.
func Load(getenv Getenv) (*Config, error) {
	c, dirs, err := check(getenv)
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		if err := ensureWritableDir(d.path); err != nil {
			why := err.Error()
			if d.path != d.value {
				why = d.path + ": " + why
			}
			return nil, &Error{Var: d.from, Value: d.value, Fix: "is not a writable directory (" + why + "); point it at a directory the stigmer user owns, or fix its owner and mode"}
		}
	}
	return c, nil
}

// Check is Load without touching the disk: every value is checked the same
// way, the directories are resolved but neither created nor written to.
// `stigmer doctor` uses it on the service's environment, which it runs
// under another user than the service's, so that it can judge the
// directories itself.
func Check(getenv Getenv) (*Config, error) {
	c, _, err := check(getenv)
	return c, err
}

// check runs every value check and returns the directories to prove.
func check(getenv Getenv) (*Config, []dir, error) {
	c := &Config{
		Listen:       or(getenv("STIGMER_LISTEN"), DefaultListen),
		AgentImage:   strings.TrimSpace(getenv("STIGMER_AGENT_RUNNER_IMAGE")),
		ContainerCLI: or(getenv("STIGMER_CONTAINER_CLI"), DefaultContainerCLI),
		LLM: LLM{
			Provider: getenv("STIGMER_LLM_PROVIDER"),
			Model:    getenv("STIGMER_LLM_MODEL"),
			BaseURL:  getenv("STIGMER_LLM_BASE_URL"),
			APIKey:   getenv("OPENAI_API_KEY"),
		},
	}
	var dirs []dir
	steps := []func(Getenv) error{
		c.checkListen, c.loadAllowedHosts,
		func(getenv Getenv) (err error) { dirs, err = c.resolveDirs(getenv); return err },
		c.checkLLM, c.checkAgentImage, c.loadRestartMaxDelay,
		func(getenv Getenv) (err error) { c.Alerts, err = LoadAlerts(getenv); return err },
	}
	for _, step := range steps {
		if err := step(getenv); err != nil {
			return nil, nil, err
		}
	}
	return c, dirs, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// AllowNonLoopbackVar is the variable an operator sets to 1 to let the
// server listen on an address other than loopback: the API has no
// authentication, so that is a choice to make on purpose.
const AllowNonLoopbackVar = "STIGMER_ALLOW_NON_LOOPBACK"

func (c *Config) checkListen(getenv Getenv) error {
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return &Error{Var: "STIGMER_LISTEN", Value: c.Listen, Fix: "is not a host:port address; use for example 127.0.0.1:7234"}
	}
	if host != "" && host != "localhost" && net.ParseIP(host) == nil {
		return &Error{Var: "STIGMER_LISTEN", Value: c.Listen, Fix: "does not have an IP address or localhost as its host; use for example 127.0.0.1:7234"}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return &Error{Var: "STIGMER_LISTEN", Value: c.Listen, Fix: "does not end in a port number from 0 to 65535; use for example 127.0.0.1:7234"}
	}
	switch allow := getenv(AllowNonLoopbackVar); allow {
	case "", "0":
	case "1":
		c.AllowNonLoopback = true
	default:
		return &Error{Var: AllowNonLoopbackVar, Value: allow, Fix: "is neither 1 nor 0; set it to 1 only to expose the API (it has no authentication) beyond this machine"}
	}
	if !IsLoopback(host) && !c.AllowNonLoopback {
		return &Error{Var: "STIGMER_LISTEN", Value: c.Listen, Fix: "is not a loopback address and the API has no authentication; use 127.0.0.1:" + port + ", or set " + AllowNonLoopbackVar + "=1 to expose it on purpose (behind a firewall or an authenticating proxy)"}
	}
	return nil
}

// IsLoopback reports whether host (a listen or Host header host, without
// port or brackets) names this machine's loopback interface only:
// localhost or a loopback IP. The empty host (every interface) is not.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// dir is a directory the configuration needs, with the variable (and its
// value) that the operator set to choose it, for the error message.
type dir struct{ path, from, value string }

// The server's Unix sockets, in its runtime directory.
const (
	// OperatorSocket serves root's operations (the history) to root and
	// the service's user, as the peer's credentials say.
	OperatorSocket = "stigmer.sock"
	// RunnerSocket is the runners' control socket for a container, which
	// cannot inherit a socket pair; its directory is the service user's
	// alone.
	RunnerSocket = "runners/control.sock"
)

// maxSocketPath is the longest path a Unix socket may have (sun_path,
// less its terminating NUL).
const maxSocketPath = 107

// resolveDirs decides the data, log and runtime directories and checks
// that they are absolute paths, creating nothing.
func (c *Config) resolveDirs(getenv Getenv) ([]dir, error) {
	data, log, err := dirs(getenv)
	if err != nil {
		return nil, err
	}
	run, err := runtimeDir(getenv)
	if err != nil {
		return nil, err
	}
	c.DataDir, c.LogDir, c.RuntimeDir = data.path, log.path, run.path
	for _, d := range []dir{data, log, run} {
		if !filepath.IsAbs(d.path) {
			return nil, &Error{Var: d.from, Value: d.value, Fix: "is not an absolute path; use for example /var/lib/stigmer"}
		}
	}
	if n := len(filepath.Join(run.path, RunnerSocket)); n > maxSocketPath {
		return nil, &Error{Var: run.from, Value: run.value, Fix: fmt.Sprintf("makes the server's sockets too long a path (%s is %d bytes, a Unix socket's may have %d); set STIGMER_RUNTIME_DIR to a shorter directory, for example /run/user/%d/stigmer", filepath.Join(run.path, RunnerSocket), n, maxSocketPath, os.Getuid())}
	}
	return []dir{data, log, run}, nil
}

// runtimeDir is STIGMER_RUNTIME_DIR, else the unit's runtime directory
// under systemd, else $STIGMER_HOME/run.
func runtimeDir(getenv Getenv) (dir, error) {
	if v := getenv("STIGMER_RUNTIME_DIR"); v != "" {
		return dir{v, "STIGMER_RUNTIME_DIR", v}, nil
	}
	if UnderSystemd(getenv) {
		return dir{DefaultSystemRuntimeDir, "STIGMER_RUNTIME_DIR", DefaultSystemRuntimeDir}, nil
	}
	home, err := Home(getenv)
	if err != nil {
		return dir{}, err
	}
	from := "STIGMER_HOME"
	if getenv("STIGMER_HOME") == "" {
		from = "HOME"
	}
	return dir{filepath.Join(home, "run"), from, getenv(from)}, nil
}

// RuntimeDir is the runtime directory the configuration names, unchecked:
// where a command finds the server's sockets.
func RuntimeDir(getenv Getenv) (string, error) {
	d, err := runtimeDir(getenv)
	return d.path, err
}

// Dirs returns the data and log directories the configuration names,
// without checking or creating them (for the ExecStopPost report, which
// must work even when the configuration is what failed).
func Dirs(getenv Getenv) (data, log string, err error) {
	d, l, err := dirs(getenv)
	return d.path, l.path, err
}

// dirs resolves the data and log directories: the variables when set, the
// system paths under systemd, $STIGMER_HOME and its logs/ otherwise. Each
// says which variable chose it.
func dirs(getenv Getenv) (data, log dir, err error) {
	data = dir{DefaultSystemDataDir, "STIGMER_DATA_DIR", DefaultSystemDataDir}
	log = dir{DefaultSystemLogDir, "STIGMER_LOG_DIR", DefaultSystemLogDir}
	if !UnderSystemd(getenv) {
		home, err := Home(getenv)
		if err != nil {
			return dir{}, dir{}, err
		}
		from := "STIGMER_HOME"
		if getenv("STIGMER_HOME") == "" {
			from = "HOME"
		}
		value := getenv(from)
		data = dir{home, from, value}
		log = dir{filepath.Join(home, "logs"), from, value}
	}
	if v := getenv("STIGMER_DATA_DIR"); v != "" {
		data = dir{v, "STIGMER_DATA_DIR", v}
	}
	if v := getenv("STIGMER_LOG_DIR"); v != "" {
		log = dir{v, "STIGMER_LOG_DIR", v}
	}
	return data, log, nil
}

// ensureWritableDir creates dir (0750) when missing and proves it writable
// by creating and removing a file in it: permission bits alone do not tell
// about read-only mounts (ProtectSystem=strict) or ACLs.
func ensureWritableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return unwrapPathError(err)
	}
	f, err := os.CreateTemp(dir, ".stigmer-write-check-*")
	if err != nil {
		return unwrapPathError(err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

func (c *Config) checkLLM(Getenv) error {
	switch c.LLM.Provider {
	case "", "ollama":
	case "openai":
		if c.LLM.APIKey == "" {
			return &Error{Var: "OPENAI_API_KEY", Value: "", Fix: "is empty but STIGMER_LLM_PROVIDER=openai needs it; set OPENAI_API_KEY=sk-... or choose another provider"}
		}
	default:
		return &Error{Var: "STIGMER_LLM_PROVIDER", Value: c.LLM.Provider, Fix: "is not a known provider; set it to openai or ollama, or leave it empty for none"}
	}
	if c.LLM.BaseURL != "" {
		u, err := url.Parse(c.LLM.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &Error{Var: "STIGMER_LLM_BASE_URL", Value: c.LLM.BaseURL, Fix: "is not an http:// or https:// URL; use for example http://127.0.0.1:11434 for ollama"}
		}
	}
	return nil
}

func (c *Config) checkAgentImage(Getenv) error {
	if c.AgentImage == "" {
		return nil
	}
	if strings.ContainsAny(c.AgentImage, " \t\n") || strings.HasPrefix(c.AgentImage, "-") {
		return &Error{Var: "STIGMER_AGENT_RUNNER_IMAGE", Value: c.AgentImage, Fix: "is not an image reference; use for example ghcr.io/example/stigmer-agent-runner:1.0, or leave it empty to run the agent runner natively"}
	}
	if _, err := exec.LookPath(c.ContainerCLI); err != nil {
		return &Error{Var: "STIGMER_CONTAINER_CLI", Value: c.ContainerCLI, Fix: "is not an executable on PATH, and STIGMER_AGENT_RUNNER_IMAGE needs it; install docker (or set STIGMER_CONTAINER_CLI to a docker-compatible CLI; under the packaged unit only rootful docker works), or unset STIGMER_AGENT_RUNNER_IMAGE"}
	}
	return nil
}

func (c *Config) loadRestartMaxDelay(getenv Getenv) error {
	s := getenv("STIGMER_RUNNER_RESTART_MAX_DELAY")
	if s == "" {
		c.RestartMaxDelay = DefaultRestartMaxDelay
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return &Error{Var: "STIGMER_RUNNER_RESTART_MAX_DELAY", Value: s, Fix: "is not a positive duration; use for example 30s or 2m"}
	}
	if d < MinRestartMaxDelay {
		return &Error{Var: "STIGMER_RUNNER_RESTART_MAX_DELAY", Value: s, Fix: "is below the minimum of 1s (a crashing runner would be restarted many times a second, flooding the log); use for example 30s"}
	}
	c.RestartMaxDelay = d
	return nil
}

// Mask hides a secret for logs and messages, keeping only a short prefix so
// that an admin can tell which key is meant ("sk-…").
func Mask(secret string) string {
	if secret == "" {
		return ""
	}
	if len(secret) <= 8 {
		return "…"
	}
	return secret[:3] + "…"
}

// Environ returns the variables the runners need, as NAME=value strings:
// the LLM settings (including the API key: runners use it) and nothing of
// systemd's protocol.
func (c *Config) Environ() []string {
	var env []string
	add := func(k, v string) {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	add("STIGMER_LLM_PROVIDER", c.LLM.Provider)
	add("STIGMER_LLM_MODEL", c.LLM.Model)
	add("STIGMER_LLM_BASE_URL", c.LLM.BaseURL)
	add("OPENAI_API_KEY", c.LLM.APIKey)
	add("STIGMER_DATA_DIR", c.DataDir)
	add("STIGMER_LOG_DIR", c.LogDir)
	return env
}
