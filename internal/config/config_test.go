package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func envOf(m map[string]string) Getenv { return func(k string) string { return m[k] } }

func TestLoad(t *testing.T) {
	home := t.TempDir()
	base := func(extra map[string]string) map[string]string {
		m := map[string]string{"HOME": home}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	// success
	t.Run("defaults outside systemd live under STIGMER_HOME", func(t *testing.T) {
		sh := filepath.Join(home, "sh")
		c, err := Load(envOf(base(map[string]string{"STIGMER_HOME": sh})))
		assert.NilError(t, err)
		assert.Equal(t, c.Listen, DefaultListen)
		assert.Equal(t, c.DataDir, sh)
		assert.Equal(t, c.LogDir, filepath.Join(sh, "logs"))
		assert.Equal(t, c.RestartMaxDelay, 30*time.Second)
		assert.Equal(t, c.ContainerCLI, "docker")
	})
	t.Run("~/.stigmer without STIGMER_HOME", func(t *testing.T) {
		c, err := Load(envOf(base(nil)))
		assert.NilError(t, err)
		assert.Equal(t, c.DataDir, filepath.Join(home, ".stigmer"))
	})
	t.Run("openai with a key, a base URL and a backoff cap", func(t *testing.T) {
		c, err := Load(envOf(base(map[string]string{
			"STIGMER_LLM_PROVIDER": "openai", "OPENAI_API_KEY": "sk-abcdefghijkl",
			"STIGMER_LLM_BASE_URL": "https://llm.example.test/v1", "STIGMER_RUNNER_RESTART_MAX_DELAY": "2s",
		})))
		assert.NilError(t, err)
		assert.Equal(t, c.LLM.APIKey, "sk-abcdefghijkl")
		assert.Equal(t, c.RestartMaxDelay, 2*time.Second)
		assert.Assert(t, is.Contains(c.Environ(), "OPENAI_API_KEY=sk-abcdefghijkl"))
	})

	// failure: each names the variable, shows the value (masked when
	// secret) and says what to do
	notADir := filepath.Join(home, "file")
	assert.NilError(t, os.WriteFile(notADir, nil, 0o600))
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantVar string
		want    []string
	}{
		{"unknown provider", map[string]string{"STIGMER_LLM_PROVIDER": "gemini"}, "STIGMER_LLM_PROVIDER",
			[]string{`STIGMER_LLM_PROVIDER="gemini"`, "openai or ollama"}},
		{"openai without key", map[string]string{"STIGMER_LLM_PROVIDER": "openai"}, "OPENAI_API_KEY",
			[]string{"OPENAI_API_KEY", "sk-"}},
		{"listen without port", map[string]string{"STIGMER_LISTEN": "127.0.0.1"}, "STIGMER_LISTEN",
			[]string{`STIGMER_LISTEN="127.0.0.1"`, "127.0.0.1:7234"}},
		{"listen with a bad port", map[string]string{"STIGMER_LISTEN": "127.0.0.1:http"}, "STIGMER_LISTEN",
			[]string{"port number"}},
		{"listen on a host name", map[string]string{"STIGMER_LISTEN": "example.test:7234"}, "STIGMER_LISTEN",
			[]string{"IP address"}},
		{"relative data dir", map[string]string{"STIGMER_DATA_DIR": "data"}, "STIGMER_DATA_DIR",
			[]string{"not an absolute path"}},
		{"data dir is a file", map[string]string{"STIGMER_DATA_DIR": notADir}, "STIGMER_DATA_DIR",
			[]string{"not a directory"}},
		{"bad base URL", map[string]string{"STIGMER_LLM_BASE_URL": "localhost:11434"}, "STIGMER_LLM_BASE_URL",
			[]string{"http://"}},
		{"bad backoff cap", map[string]string{"STIGMER_RUNNER_RESTART_MAX_DELAY": "soon"}, "STIGMER_RUNNER_RESTART_MAX_DELAY",
			[]string{"positive duration"}},
		{"image with a space", map[string]string{"STIGMER_AGENT_RUNNER_IMAGE": "a b"}, "STIGMER_AGENT_RUNNER_IMAGE",
			[]string{"image reference"}},
		{"image without a container CLI", map[string]string{"STIGMER_AGENT_RUNNER_IMAGE": "example/agent:1", "STIGMER_CONTAINER_CLI": "no-such-cli-here"},
			"STIGMER_CONTAINER_CLI", []string{"not an executable on PATH", "podman"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(envOf(base(tc.env)))
			var ce *Error
			assert.Assert(t, errors.As(err, &ce), "got %v", err)
			assert.Equal(t, ce.Var, tc.wantVar)
			for _, w := range tc.want {
				assert.Assert(t, is.Contains(err.Error(), w))
			}
			assert.Assert(t, !strings.Contains(err.Error(), "\n"), "one line")
		})
	}
	t.Run("unwritable data dir, even for root", func(t *testing.T) {
		_, err := Load(envOf(base(map[string]string{"STIGMER_DATA_DIR": "/proc/stigmer-unwritable"})))
		assert.ErrorContains(t, err, `STIGMER_DATA_DIR="/proc/stigmer-unwritable" is not a writable directory (mkdir: `)
	})
}

func TestDirs(t *testing.T) {
	for _, tc := range []struct {
		name              string
		env               map[string]string
		wantData, wantLog string
	}{
		{"under systemd", map[string]string{"INVOCATION_ID": "0123", "HOME": "/root"}, "/var/lib/stigmer", "/var/log/stigmer"},
		{"dev", map[string]string{"HOME": "/home/u"}, "/home/u/.stigmer", "/home/u/.stigmer/logs"},
		{"dev with STIGMER_HOME", map[string]string{"STIGMER_HOME": "/srv/s"}, "/srv/s", "/srv/s/logs"},
		{"variables win", map[string]string{"INVOCATION_ID": "0123", "STIGMER_DATA_DIR": "/d", "STIGMER_LOG_DIR": "/l"}, "/d", "/l"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, log, err := dirs(envOf(tc.env))
			assert.NilError(t, err)
			assert.Equal(t, data, tc.wantData)
			assert.Equal(t, log, tc.wantLog)
		})
	}
	_, _, err := dirs(envOf(nil))
	assert.ErrorContains(t, err, "STIGMER_HOME")
}

func TestSecretsAreMasked(t *testing.T) {
	err := &Error{Var: "OPENAI_API_KEY", Value: "sk-verysecretvalue", Fix: "is wrong"}
	assert.Assert(t, !strings.Contains(err.Error(), "verysecret"), err.Error())
	assert.Assert(t, is.Contains(err.Error(), `"sk-…"`))
	assert.Equal(t, Mask("short"), "…")
	assert.Equal(t, Mask(""), "")
}
