package container

import (
	"testing"

	"gotest.tools/v3/assert"
)

func TestArgs(t *testing.T) {
	rt := Runtime{CLI: "docker", Image: "example/agent:1.0", EnvNames: []string{"STIGMER_SERVER_URL", "OPENAI_API_KEY"}}
	assert.DeepEqual(t, rt.Args(), []string{
		"run", "--rm", "--init", "--name", "stigmer-agent-runner", "--network", "host",
		"-e", "STIGMER_SERVER_URL", "-e", "OPENAI_API_KEY", "example/agent:1.0",
	})
	cmd := rt.Command()
	assert.Equal(t, cmd.Args[0], "docker")
}
