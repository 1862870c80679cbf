package server

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stigmer/stigmer/internal/config"
	"github.com/stigmer/stigmer/internal/container"
	"github.com/stigmer/stigmer/internal/logging"
	"github.com/stigmer/stigmer/internal/supervisor"
)

// Each runner gets only the variables it needs from the server's
// environment; everything else stays with the server. The alert settings
// hold secrets (the SMTP password, a webhook URL's token), and no runner,
// least of all the agent runner, which talks to LLMs, has any use for
// them.
var (
	// runnerBase is what every runner keeps: what a process needs to run
	// and log (JOURNAL_STREAM: the server's, which the supervisor replaces
	// with the runner's own stream).
	runnerBase = []string{"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "LC_*", "TZ", "TMPDIR", "JOURNAL_STREAM"}
	// agentVars are the agent runner's: its LLM, and the proxy on the way
	// to a remote one (its control traffic never goes through a proxy).
	agentVars = []string{"STIGMER_LLM_PROVIDER", "STIGMER_LLM_MODEL", "STIGMER_LLM_BASE_URL", "OPENAI_API_KEY",
		"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"}
	// containerCLIVars are what the container CLI (docker, podman) reads to
	// find and talk to its engine.
	containerCLIVars = []string{"DOCKER_*", "CONTAINER_HOST", "CONTAINERS_*", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "REGISTRY_AUTH_FILE"}
)

// environ is the variables of the server's environment that names lists
// (a name ending in * is a prefix), and then extra.
func environ(names []string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		for _, want := range names {
			if prefix, ok := strings.CutSuffix(want, "*"); (ok && strings.HasPrefix(name, prefix)) || name == want {
				env = append(env, kv)
				break
			}
		}
	}
	return append(env, extra...)
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

// runnerSpecs are the runners: native ones talk to the server over a
// socket pair they inherit; a container, which cannot inherit one, over
// the runners' socket (s.runnerSocket), which it mounts at the same path.
func (s *server) runnerSpecs() []supervisor.Spec {
	native := func(name string) func() *exec.Cmd {
		return func() *exec.Cmd { return exec.Command(s.o.Executable, "internal-"+name) }
	}
	specs := []supervisor.Spec{{Name: WorkflowRunner, Mode: "native", Command: native(WorkflowRunner),
		Env: environ(runnerBase), ControlFD: true}}
	if s.o.Config.AgentImage == "" {
		return append(specs, supervisor.Spec{Name: AgentRunner, Mode: "native", Command: native(AgentRunner),
			Env: environ(slices.Concat(runnerBase, agentVars)), ControlFD: true})
	}
	// The container gets the -e NAMEs from the CLI's environment, and
	// nothing else of it.
	sock := s.runnerSocket()
	rt := container.Runtime{
		CLI: s.o.Config.ContainerCLI, Image: s.o.Config.AgentImage,
		EnvNames: slices.Concat([]string{"STIGMER_CONTROL_SOCKET", "STIGMER_RUNNER_TOKEN", "STIGMER_HEARTBEAT_INTERVAL"}, agentVars),
		Mounts:   []string{sock + ":" + sock},
	}
	return append(specs, supervisor.Spec{Name: AgentRunner, Mode: "container", Command: rt.Command, Prepare: rt.RemoveStale, Kill: rt.Kill,
		Env: environ(slices.Concat(runnerBase, containerCLIVars, agentVars), "STIGMER_CONTROL_SOCKET="+sock)})
}

// runnerSocket is the path of the runners' socket.
func (s *server) runnerSocket() string {
	return filepath.Join(s.o.Config.RuntimeDir, config.RunnerSocket)
}

func (s *server) agentMode() string {
	if s.o.Config.AgentImage == "" {
		return "native"
	}
	return "container " + s.o.Config.AgentImage
}
