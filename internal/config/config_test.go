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
	t.Run("loopback listen addresses, and others on purpose", func(t *testing.T) {
		for _, listen := range []string{"127.0.0.1:0", "127.0.0.2:7234", "localhost:7234", "[::1]:7234"} {
			c, err := Load(envOf(base(map[string]string{"STIGMER_LISTEN": listen})))
			assert.NilError(t, err, listen)
			assert.Assert(t, !c.AllowNonLoopback)
		}
		c, err := Load(envOf(base(map[string]string{"STIGMER_LISTEN": "0.0.0.0:7299", "STIGMER_ALLOW_NON_LOOPBACK": "1"})))
		assert.NilError(t, err)
		assert.Assert(t, c.AllowNonLoopback)
	})
	t.Run("a backoff cap of 1s is the minimum", func(t *testing.T) {
		c, err := Load(envOf(base(map[string]string{"STIGMER_RUNNER_RESTART_MAX_DELAY": "1s"})))
		assert.NilError(t, err)
		assert.Equal(t, c.RestartMaxDelay, time.Second)
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
		{"backoff cap below 1s", map[string]string{"STIGMER_RUNNER_RESTART_MAX_DELAY": "1ms"}, "STIGMER_RUNNER_RESTART_MAX_DELAY",
			[]string{`STIGMER_RUNNER_RESTART_MAX_DELAY="1ms" is below the minimum of 1s`}},
		{"relative STIGMER_HOME", map[string]string{"STIGMER_HOME": "relhome"}, "STIGMER_HOME",
			[]string{`STIGMER_HOME="relhome" is not an absolute path`}},
		{"relative STIGMER_LOG_DIR", map[string]string{"STIGMER_LOG_DIR": "logs"}, "STIGMER_LOG_DIR",
			[]string{`STIGMER_LOG_DIR="logs" is not an absolute path`}},
		{"listen on every interface", map[string]string{"STIGMER_LISTEN": "0.0.0.0:7299"}, "STIGMER_LISTEN",
			[]string{`STIGMER_LISTEN="0.0.0.0:7299" is not a loopback address`, "use 127.0.0.1:7299", "STIGMER_ALLOW_NON_LOOPBACK=1"}},
		{"listen without a host", map[string]string{"STIGMER_LISTEN": ":7299"}, "STIGMER_LISTEN",
			[]string{"is not a loopback address"}},
		{"listen on a LAN address", map[string]string{"STIGMER_LISTEN": "192.0.2.7:7299", "STIGMER_ALLOW_NON_LOOPBACK": "0"}, "STIGMER_LISTEN",
			[]string{"is not a loopback address"}},
		{"opt-in not 0 or 1", map[string]string{"STIGMER_LISTEN": "0.0.0.0:7299", "STIGMER_ALLOW_NON_LOOPBACK": "yes"}, "STIGMER_ALLOW_NON_LOOPBACK",
			[]string{"is neither 1 nor 0"}},
		{"image with a space", map[string]string{"STIGMER_AGENT_RUNNER_IMAGE": "a b"}, "STIGMER_AGENT_RUNNER_IMAGE",
			[]string{"image reference"}},
		{"image without a container CLI", map[string]string{"STIGMER_AGENT_RUNNER_IMAGE": "example/agent:1", "STIGMER_CONTAINER_CLI": "no-such-cli-here"},
			"STIGMER_CONTAINER_CLI", []string{"not an executable on PATH", "docker-compatible"}},
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
	t.Run("nothing is created when a later check fails", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), "new", "data")
		_, err := Load(envOf(base(map[string]string{"STIGMER_DATA_DIR": data, "STIGMER_LLM_PROVIDER": "gemini"})))
		assert.ErrorContains(t, err, "STIGMER_LLM_PROVIDER")
		_, err = os.Stat(filepath.Dir(data))
		assert.Assert(t, errors.Is(err, os.ErrNotExist), "created %s before the checks passed", filepath.Dir(data))
	})
	t.Run("Check creates and writes nothing, and resolves the same directories", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), "new", "data")
		c, err := Check(envOf(base(map[string]string{"STIGMER_DATA_DIR": data, "STIGMER_LOG_DIR": "/proc/stigmer-unwritable"})))
		assert.NilError(t, err)
		assert.Equal(t, c.DataDir, data)
		assert.Equal(t, c.LogDir, "/proc/stigmer-unwritable")
		_, err = os.Stat(filepath.Dir(data))
		assert.Assert(t, errors.Is(err, os.ErrNotExist), "Check created %s", filepath.Dir(data))
		_, err = Check(envOf(base(map[string]string{"STIGMER_LLM_PROVIDER": "gemini"})))
		assert.ErrorContains(t, err, "STIGMER_LLM_PROVIDER")
	})
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
			assert.Equal(t, data.path, tc.wantData)
			assert.Equal(t, log.path, tc.wantLog)
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
