// Package container builds the command that runs the agent runner as a
// container (`docker run` in the foreground, so that the container's life
// is the child process's life and it stays in the service's cgroup), and
// removes a stale container left by an earlier run. It does not talk to the
// Docker API: the CLI (docker, or podman) does.
package container

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Name is the agent runner container's name; one per host.
const Name = "stigmer-agent-runner"

// Runtime is a container CLI and the image to run.
type Runtime struct {
	CLI   string // "docker" or a compatible CLI such as podman
	Image string
	// EnvNames are passed as `-e NAME` (no value): the CLI copies them
	// from its own environment, so secrets never show on a command line.
	EnvNames []string
}

// Args are the arguments after the CLI name:
// run --rm --init --name stigmer-agent-runner --network host -e NAME... IMAGE
func (r Runtime) Args() []string {
	args := []string{"run", "--rm", "--init", "--name", Name, "--network", "host"}
	for _, n := range r.EnvNames {
		args = append(args, "-e", n)
	}
	return append(args, r.Image)
}

// Command returns the unstarted `docker run` command.
func (r Runtime) Command() *exec.Cmd { return exec.Command(r.CLI, r.Args()...) }

// RemoveStale force-removes a container named Name, left running when the
// `docker run` client was killed (SIGKILL does not reach the container).
// "No such container" is success. It gives up after 20 s.
func (r Runtime) RemoveStale(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, r.CLI, "rm", "--force", Name)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if strings.Contains(strings.ToLower(out.String()), "no such container") {
			return nil
		}
		return fmt.Errorf("removing stale container %s with %s: %w: %s", Name, r.CLI, err, strings.TrimSpace(out.String()))
	}
	return nil
}
