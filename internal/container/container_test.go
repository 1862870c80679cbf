package container

import (
	"context"
	"path/filepath"
	"time"

	"testing"

	"gotest.tools/v3/assert"
)

func TestArgs(t *testing.T) {
	rt := Runtime{CLI: "docker", Image: "example/agent:1.0", EnvNames: []string{"STIGMER_CONTROL_SOCKET", "OPENAI_API_KEY"},
		Mounts: []string{"/run/stigmer/runners/control.sock:/run/stigmer/runners/control.sock"}}
	assert.DeepEqual(t, rt.Args(), []string{
		"run", "--rm", "--init", "--name", "stigmer-agent-runner", "--network", "host",
		"-v", "/run/stigmer/runners/control.sock:/run/stigmer/runners/control.sock",
		"-e", "STIGMER_CONTROL_SOCKET", "-e", "OPENAI_API_KEY", "example/agent:1.0",
	})
	cmd := rt.Command()
	assert.Equal(t, cmd.Args[0], "docker")
}

func TestRemoveStaleGivesUpOnAHangingCLI(t *testing.T) {
	cli, err := filepath.Abs("testdata/docker-standin-rm-hangs.sh")
	assert.NilError(t, err)
	rt := Runtime{CLI: cli, Image: "example/agent:1.0", RemoveTimeout: 200 * time.Millisecond}
	err = rt.RemoveStale(context.Background())
	assert.ErrorContains(t, err, "removing stale container stigmer-agent-runner with "+cli+": no answer within 200ms; the container engine may be stuck")
}
