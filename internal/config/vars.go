package config

import (
	"fmt"
	"slices"
	"strings"
)

// Var is one environment variable the server reads. Vars is the one list
// of them: the start-up warning and `stigmer doctor` name any other
// STIGMER_* variable against it, and the man page's ENVIRONMENT section is
// written from it.
type Var struct {
	Name string
	// Default is what applies when the variable is unset or empty, as an
	// operator reads it ("" when there is none).
	Default string
	// Meaning is the man page's text: what it sets and what it takes.
	Meaning string
	// Secret values are never shown in full (see Mask).
	Secret bool
}

// vars is in the order the man page lists them.
var vars = []Var{
	{Name: "STIGMER_LISTEN", Default: DefaultListen,
		Meaning: "Address of the API, host:port (an IP address or localhost; port 0 picks a free one). Loopback only unless " + AllowNonLoopbackVar + "=1."},
	{Name: AllowNonLoopbackVar, Default: "0",
		Meaning: "1 lets STIGMER_LISTEN be any address. The API has no authentication: keep it behind a firewall or an authenticating proxy; the server logs a warning."},
	{Name: AllowedHostsVar, Default: "",
		Meaning: "More names the API answers to, besides loopback names and the listen address: a comma-separated list of host names or IP addresses, each with or without :port (a name alone accepts any port). Name here what a reverse proxy sends as Host, or the name Prometheus scrapes; requests naming another host get 421, against DNS rebinding."},
	{Name: "STIGMER_DATA_DIR", Default: DefaultSystemDataDir + " under systemd, else $STIGMER_HOME",
		Meaning: "Directory of the server's state (the history, history.db); created if missing, and it must be writable."},
	{Name: "STIGMER_LOG_DIR", Default: DefaultSystemLogDir + " under systemd, else $STIGMER_HOME/logs",
		Meaning: "Directory of the server's log files besides the journal; created if missing, and it must be writable."},
	{Name: "STIGMER_RUNTIME_DIR", Default: DefaultSystemRuntimeDir + " under systemd (the unit's RuntimeDirectory=), else $STIGMER_HOME/run",
		Meaning: "Directory of the server's Unix sockets: stigmer.sock, which root's stigmer events and status use, and runners/control.sock, a containerised agent runner's. Another path must be writable by the stigmer user (ReadWritePaths=) and short, as socket paths must be."},
	{Name: "STIGMER_LLM_PROVIDER", Default: "",
		Meaning: "LLM provider of the runners: openai or ollama; empty for none."},
	{Name: "STIGMER_LLM_MODEL", Default: "the provider's default",
		Meaning: "Model name passed to the provider."},
	{Name: "STIGMER_LLM_BASE_URL", Default: "the provider's default",
		Meaning: "Base URL of the provider's API, http:// or https://."},
	{Name: "OPENAI_API_KEY", Default: "", Secret: true,
		Meaning: "API key; required with STIGMER_LLM_PROVIDER=openai. Never logged or shown in status."},
	{Name: "STIGMER_AGENT_RUNNER_IMAGE", Default: "",
		Meaning: "Run the agent runner as this container image (docker run) instead of natively."},
	{Name: "STIGMER_CONTAINER_CLI", Default: DefaultContainerCLI,
		Meaning: "Container CLI for STIGMER_AGENT_RUNNER_IMAGE: a name on PATH or an absolute path. Under the packaged unit only rootful docker works."},
	{Name: "STIGMER_RUNNER_RESTART_MAX_DELAY", Default: DefaultRestartMaxDelay.String(),
		Meaning: "Cap of the runner restart backoff (200ms, doubling), a Go duration of at least 1s."},
	{Name: "STIGMER_ALERT_WEBHOOK_URL", Default: "",
		Meaning: "Alerts are posted to this URL as JSON (5 s timeout, one retry). It may hold a token: it is never logged whole."},
	{Name: "STIGMER_ALERT_SMTP_SERVER", Default: "",
		Meaning: "Mail relay for alerts, host:port; see STIGMER_ALERT_SMTP_TLS for how the session is protected."},
	{Name: "STIGMER_ALERT_SMTP_FROM", Default: "",
		Meaning: "Sender address of alert mail; required with STIGMER_ALERT_SMTP_SERVER."},
	{Name: "STIGMER_ALERT_SMTP_TO", Default: "",
		Meaning: "Recipients of alert mail, separated by commas; required with STIGMER_ALERT_SMTP_SERVER."},
	{Name: "STIGMER_ALERT_SMTP_TLS", Default: "tls on port 465, else starttls; to a relay on loopback, STARTTLS only when offered",
		Meaning: "How the session with the relay is protected: starttls (STARTTLS required), tls (TLS from the start, SMTPS) or none. The relay's certificate is checked against the system's roots; none with a login to a relay beyond loopback is refused."},
	{Name: "STIGMER_ALERT_SMTP_USERNAME", Default: "",
		Meaning: "Login to the relay, only over TLS; set with STIGMER_ALERT_SMTP_PASSWORD."},
	{Name: "STIGMER_ALERT_SMTP_PASSWORD", Default: "", Secret: true,
		Meaning: "Password of STIGMER_ALERT_SMTP_USERNAME. Never logged."},
	{Name: "STIGMER_ALERT_INTERVAL", Default: DefaultAlertInterval.String(),
		Meaning: "At most one alert per component this often (at least 10s); what is held back is summed up once it is over."},
	{Name: "STIGMER_ALERT_RUNNER_RESTARTS", Default: fmt.Sprint(DefaultAlertRunnerRestarts),
		Meaning: "A runner restarting this many times within STIGMER_ALERT_RUNNER_WINDOW raises an alert."},
	{Name: "STIGMER_ALERT_RUNNER_WINDOW", Default: DefaultAlertRunnerWindow.String(),
		Meaning: "The window of STIGMER_ALERT_RUNNER_RESTARTS, a Go duration."},
	{Name: "STIGMER_HOME", Default: "~/.stigmer",
		Meaning: "The development server's directory (stigmer server start): its PID, address and log files, and its data outside systemd. An absolute path."},
}

// runnerVars are set by the server for its runners; the server itself
// ignores them.
var runnerVars = []string{"STIGMER_CONTROL_FD", "STIGMER_CONTROL_SOCKET", "STIGMER_RUNNER_TOKEN", "STIGMER_HEARTBEAT_INTERVAL"}

// Vars returns every variable the server reads, in the man page's order.
func Vars() []Var { return slices.Clone(vars) }

// Prefix starts the name of every variable of stigmer's own; other names
// in the environment are not stigmer's to judge (OPENAI_API_KEY is the one
// variable without it).
const Prefix = "STIGMER_"

// UnknownVar is a STIGMER_* variable that the server does not read: a typo
// of a known one, a setting of another version, or one of the runners'.
type UnknownVar struct {
	Name string
	// Closest is the known name nearest to Name (by edit distance).
	Closest string
	// ForRunners: Name is one the server sets for its runners.
	ForRunners bool
}

// Likely reports whether Closest is near enough to be what was meant.
func (u UnknownVar) Likely() bool {
	return editDistance(u.Name, u.Closest) <= max(2, len(u.Name)/6)
}

func (u UnknownVar) String() string {
	switch {
	case u.ForRunners:
		return u.Name + " is set by the server for its runners, and ignored here; delete it"
	case u.Likely():
		return fmt.Sprintf("%s is not a stigmer variable and is ignored; did you mean %s?", u.Name, u.Closest)
	default:
		return fmt.Sprintf("%s is not a stigmer variable and is ignored (the closest is %s; every variable is in stigmer.service(8), ENVIRONMENT)", u.Name, u.Closest)
	}
}

// Unknown lists, sorted by name, the names among environ (NAME=value
// entries, or bare names) that start with STIGMER_ and that no Var has.
func Unknown(environ []string) []UnknownVar {
	seen := map[string]bool{}
	var out []UnknownVar
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, Prefix) || seen[name] || known(name) {
			continue
		}
		seen[name] = true
		out = append(out, UnknownVar{Name: name, Closest: closest(name), ForRunners: slices.Contains(runnerVars, name)})
	}
	slices.SortFunc(out, func(a, b UnknownVar) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func known(name string) bool {
	return slices.ContainsFunc(vars, func(v Var) bool { return v.Name == name })
}

// closest is the Var name with the least edit distance to name; ties go
// to the first in the list.
func closest(name string) string {
	best, bestD := "", -1
	for _, v := range vars {
		if d := editDistance(name, v.Name); bestD < 0 || d < bestD {
			best, bestD = v.Name, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance of a and b:
// insertions, deletions, substitutions and swaps of two neighbours each
// count 1, the typos of a hand on a keyboard.
func editDistance(a, b string) int {
	// d[i][j] is the distance of a[:i] and b[:j].
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
