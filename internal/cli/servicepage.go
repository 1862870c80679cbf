package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/cpuguy83/go-md2man/v2/md2man"

	"github.com/stigmer/stigmer/internal/config"
	"github.com/stigmer/stigmer/internal/history"
	"github.com/stigmer/stigmer/internal/logging"
	"github.com/stigmer/stigmer/internal/server"
)

// ServicePage is the man page of the service: the unit's Documentation=
// names it. Named after the unit, as systemd's own services' pages are
// (systemd-journald.service(8)), in section 8, that of daemons and of
// commands for the administrator (man-pages(7)).
const ServicePage = "stigmer.service.8"

// exitStatuses are the server's exit codes, for EXIT STATUS: what it
// means and what systemd does about it under the packaged unit.
var exitStatuses = []struct {
	code    int
	meaning string
}{
	{0, "A clean stop: SIGTERM or SIGINT (systemctl stop, shutdown), the runners drained. Not restarted."},
	{1, "The server could not start or serve: the listen address is taken (the message says how to find its owner), a stored socket could not be used. Restarted after RestartSec=10."},
	{2, "The Go runtime ended it: a panic, a fatal error, or the watchdog's SIGABRT of a hung server; the trace is in the journal and in " + config.DefaultSystemLogDir + "/" + server.CrashFile + ". Restarted."},
	{config.ExitCode, "EX_CONFIG: a bad configuration. One line on stderr (in the journal) names the variable, its value (secrets masked) and the fix. Not restarted (RestartPreventExitStatus=78): fix the env file, then systemctl restart stigmer. stigmer doctor says the same before a restart."},
}

// servicePage renders stigmer.service(8) as roff, its ENVIRONMENT from
// config.Vars, the list the server checks its environment against.
func servicePage(date time.Time) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%% \"STIGMER.SERVICE\" \"8\" \"%s\" \"Stigmer\" \"Stigmer Manual\"\n", date.Format("Jan 2006"))
	b.WriteString(`# NAME
stigmer.service \- the Stigmer server, run and restarted by systemd

# SYNOPSIS
**stigmer.service**

**/usr/bin/stigmer internal-server**

# DESCRIPTION
The stigmer package installs, enables and starts **stigmer.service**, which runs the Stigmer server: **stigmer internal-server**, as the system user stigmer. The server serves an HTTP API on 127.0.0.1:7234 (**GET /healthz**, **GET /readyz**, **GET /api/v1/status**, **GET /api/v1/events**, **GET /metrics** for Prometheus) and supervises two runners, workflow-runner and agent-runner, child processes of the same binary that it restarts with a backoff when they exit, crash or stop heartbeating.

The unit is **Type=notify**: the server tells systemd it is ready once the API listens and both runners have registered, keeps **STATUS=** current (systemctl status stigmer), and pings the watchdog (**WatchdogSec=30s**) only while its own loops are healthy. systemd restarts the server 10 seconds after any failure: a crash, kill -9, an OOM kill, a hang, a non-zero exit, a start that timed out. The API's listening socket outlives the server in systemd's file-descriptor store, so clients that connect during a restart wait instead of being refused.

The server records every start and end of itself and its runners in its history (**stigmer events**), and sends an alert when it died or a runner keeps crashing: always to the journal at priority alert, and to a webhook and by mail when configured; **stigmer alert test** sends a test alert through each. **stigmer backup** copies the history while the server runs; **stigmer restore** puts a copy back while it is stopped.

Configure the service with environment variables in its env file (below), then run **systemctl restart stigmer**. Settings that are not variables (extra groups, resource limits) go in a drop-in: **systemctl edit stigmer**. Do not edit the shipped unit: an upgrade replaces it. **stigmer doctor** checks the installation and the configuration and says how to fix what is wrong.

The API has no authentication. It answers only requests whose Host names the server (loopback names, its listen address, and **STIGMER_ALLOWED_HOSTS**), and 421 to others, against DNS rebinding. For TLS or access from other machines put a reverse proxy in front: examples for nginx and Caddy are in /usr/share/doc/stigmer/examples.

# ENVIRONMENT
Read from the env file at each start and checked before anything else; a bad value makes the server exit 78 (see EXIT STATUS). A variable whose name starts with STIGMER_ and is not below is ignored: the server names it in a warning at start, and **stigmer doctor** fails on it, each with the closest known name.

`)
	for _, v := range config.Vars() {
		def := v.Default
		if def == "" {
			def = "empty"
		}
		fmt.Fprintf(&b, "**%s**\n: %s Default: %s.\n\n", v.Name, v.Meaning, def)
	}
	b.WriteString(`The server also reads what systemd passes: INVOCATION_ID (which makes the defaults those of the service), NOTIFY_SOCKET, WATCHDOG_USEC, and LISTEN_FDS with LISTEN_FDNAMES (the stored socket). Each runner gets only what it needs of the server's environment: the agent runner the LLM variables, OPENAI_API_KEY included, and the proxy variables (for a remote LLM); both what a process needs to run and what the server sets for them. The alert settings, and their secrets, stay with the server.

# FILES
**/usr/bin/stigmer**
: The binary: server, runners and command line.

**/usr/lib/systemd/system/stigmer.service**
: The unit. Replaced on upgrade: change it with systemctl edit stigmer.

**/etc/default/stigmer**, **/etc/sysconfig/stigmer**
: The env file (Debian and Ubuntu; RHEL): mode 0600, root's, as it may hold API keys. Every variable is there, commented, with its default. Kept on upgrade; a changed default lands beside it as .dpkg-dist or .rpmnew.

`)
	fmt.Fprintf(&b, "**%s/%s**\n: The history: every start and end of the server and its runners, and every alert; mode 0600, the newest %d events. Read it with stigmer events; copy it with stigmer backup FILE, also while the server runs. stigmer restore FILE puts a copy back and keeps the file it replaced beside it as %sTIME.\n\n",
		config.DefaultSystemDataDir, history.FileName, history.DefaultMaxEvents, history.BeforeRestorePrefix)
	fmt.Fprintf(&b, "**%s/**\n: Log files besides the journal: %s (the last lines, quoted in alerts) and %s (the last Go crash trace).\n\n",
		config.DefaultSystemLogDir, logging.RecentFile, server.CrashFile)
	fmt.Fprintf(&b, "**%s/%s**\n: The server's socket for root's operations (stigmer events, stigmer server status): it tells the server who asks (SO_PEERCRED). Beside it, %s, the control socket a containerised agent runner mounts. The directory is the unit's RuntimeDirectory=, made at each start.\n\n",
		config.DefaultSystemRuntimeDir, config.OperatorSocket, config.RunnerSocket)
	b.WriteString(`**/usr/lib/sysusers.d/stigmer.conf**, **/usr/lib/tmpfiles.d/stigmer.conf**
: The stigmer user and group; the state and log directories with their modes.

**/usr/share/stigmer/monitoring/**
: Prometheus alerting rules and a Grafana dashboard for the server's metrics.

**/usr/share/doc/stigmer/examples/**
: A Prometheus scrape job; nginx and Caddy terminating TLS in front of the API; stigmer-backup.service and stigmer-backup.timer, a nightly backup of the history.

# EXIT STATUS
`)
	for _, e := range exitStatuses {
		fmt.Fprintf(&b, "**%d**\n: %s\n\n", e.code, e.meaning)
	}
	b.WriteString(`systemctl status stigmer may also show codes of systemd's own when it could not start the server at all: 203 (the binary could not be run), 226 (NAMESPACE: the sandbox could not be set up, such as user namespaces turned off for PrivateUsers=yes). **stigmer doctor** names each.

# SIGNALS
**SIGTERM**, **SIGINT**
: Stop in order: the server stops being ready, sends SIGTERM to the runners, waits up to 10 seconds, sends SIGKILL to what is left, and exits 0. A second one during that stop sends SIGKILL to the runners at once.

**SIGHUP**
: Not a reload: it ends the server, and systemd restarts it (RestartForceExitStatus=), which reads the env file again. To apply a changed env file, run systemctl restart stigmer.

**SIGKILL** and other fatal signals
: The server dies; systemd restarts it 10 seconds later and records how it ended in the history (systemd's SERVICE_RESULT, EXIT_CODE and EXIT_STATUS, passed to ExecStopPost=). The runners get SIGTERM when the server dies (the parent-death signal) and go with it.

**SIGSEGV**, **SIGABRT**
: The Go runtime prints a trace of every goroutine and exits 2; systemd restarts the server. SIGABRT is what the watchdog sends a hung server.

# SEE ALSO
**stigmer(1)**, **stigmer-doctor(1)**, **stigmer-events(1)**, **stigmer-server-status(1)**, **stigmer-backup(1)**, **stigmer-restore(1)**, **stigmer-alert-test(1)**, **systemctl(1)**, **journalctl(1)**, **systemd.service(5)**, **systemd.exec(5)**, **systemd.time(7)**
`)
	return md2man.Render([]byte(b.String()))
}

// rootPageSections are added to stigmer(1), before its SEE ALSO: what
// cobra's page of the root command lacks.
func rootPageSections() []byte {
	// A title line, or md2man makes the first heading the page's title.
	page := md2man.Render([]byte(fmt.Sprintf(`%% "STIGMER" "1"
# EXIT STATUS
**0**
: Success.

**1**
: The command failed: the server cannot be reached, doctor found a failing check, the history cannot be read, a backup was not written or not restored (nothing was changed), a test alert did not reach a sink or only the journal is configured. The message on stderr says what to do.

**%d**
: A usage mistake: an unknown command or flag, a bad flag value, an argument where none goes. The command's usage follows the message.

**%d**
: A bad configuration (EX_CONFIG), for the commands that start a server (stigmer server start).

# ENVIRONMENT
The server's variables, and what each defaults to, are in **stigmer.service(8)**. The commands read STIGMER_RUNTIME_DIR (where the server's socket is), STIGMER_LISTEN (the address they ask over TCP), STIGMER_HOME (the development server's directory) and STIGMER_DATA_DIR (where stigmer events and stigmer backup read the history when no server answers, and where stigmer restore puts a backup back).

`, ExitUsage, config.ExitCode)))
	// The sections go inside cobra's page, without the title.
	_, body, _ := strings.Cut(string(page), ".SH ")
	return []byte(".SH " + body)
}
