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
	"syscall"
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
	// Mounts are passed as `-v HOST:CONTAINER` (the runners' socket).
	Mounts []string
	// RemoveTimeout bounds RemoveStale (default 20 s), KillTimeout Kill
	// (default 5 s).
	RemoveTimeout, KillTimeout time.Duration
}

// Args are the arguments after the CLI name:
// run --rm --init --name stigmer-agent-runner --network host -v MOUNT... -e NAME... IMAGE
func (r Runtime) Args() []string {
	args := []string{"run", "--rm", "--init", "--name", Name, "--network", "host"}
	for _, m := range r.Mounts {
		args = append(args, "-v", m)
	}
	for _, n := range r.EnvNames {
		args = append(args, "-e", n)
	}
	return append(args, r.Image)
}

// Command returns the unstarted `docker run` command.
func (r Runtime) Command() *exec.Cmd { return exec.Command(r.CLI, r.Args()...) }

// RemoveStale force-removes a container named Name, left running when the
// `docker run` client was killed (SIGKILL does not reach the container).
// "No such container" is success. It gives up after RemoveTimeout (20 s by
// default) and says so: a stuck container engine must not hold the runner
// back for ever, and the supervisor keeps answering its watchdog meanwhile.
func (r Runtime) RemoveStale(ctx context.Context) error {
	timeout := r.RemoveTimeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	return r.call(ctx, timeout, "removing stale container", "rm", "--force", Name)
}

// Kill kills the container named Name (SIGKILL, through the engine). The
// supervisor does it before it SIGKILLs a hung or stopping agent runner:
// that signal reaches only the `docker run` client, and the container,
// which the engine runs, would live on. "No such container" is success;
// it gives up after KillTimeout (5 s by default), or when ctx ends.
func (r Runtime) Kill(ctx context.Context) error {
	timeout := r.KillTimeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	return r.call(ctx, timeout, "killing container", "kill", Name)
}

// call runs the CLI with args, bounded by timeout and ctx. "No such
// container" is success; what fails says what was done and what the CLI
// said.
func (r Runtime) call(ctx context.Context, timeout time.Duration, doing string, args ...string) error {
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("no answer within %s", timeout))
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, r.CLI, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	// On timeout kill the CLI's whole process group, so that nothing it
	// started lives on; should something still hold the output pipe open,
	// stop waiting for it a second later.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	switch {
	case err == nil:
		return nil
	case strings.Contains(strings.ToLower(out.String()), "no such container"):
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("%s %s with %s: %v; the container engine may be stuck (try `%s ps -a`)", doing, Name, r.CLI, context.Cause(ctx), r.CLI)
	}
	return fmt.Errorf("%s %s with %s: %w: %s", doing, Name, r.CLI, err, strings.TrimSpace(out.String()))
}
