package server

import (
	"os"
	"os/exec"
	"strings"

	"github.com/stigmer/stigmer/internal/container"
	"github.com/stigmer/stigmer/internal/logging"
	"github.com/stigmer/stigmer/internal/supervisor"
)

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
