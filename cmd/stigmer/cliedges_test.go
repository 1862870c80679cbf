package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/icmd"

	"github.com/stigmer/stigmer/internal/api"
)

func TestDashDashVersion(t *testing.T) {
	for _, flag := range []string{"--version", "-v"} {
		res := icmd.RunCmd(icmd.Command(stigmerBin, flag))
		res.Assert(t, icmd.Expected{Out: "stigmer " + testVersion + "\n"})
		assert.Equal(t, res.Stdout(), "stigmer "+testVersion+"\n")
	}
}

// A command line that cannot be run as written exits 2 with the error and
// the usage of the command it reached on stderr, and nothing on stdout.
func TestUsageErrorsExit2(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		err, usage string
	}{
		{[]string{"bogus"}, `unknown command "bogus" for "stigmer" (its commands: alert, backup, completion, doctor, events, restore, server, version)`, "  stigmer [command]"},
		{[]string{"sever"}, `unknown command "sever" for "stigmer"; did you mean "server"?`, "  stigmer [command]"},
		{[]string{"server", "bogus"}, `unknown command "bogus" for "stigmer server" (its commands: start, status, stop)`, "  stigmer server [command]"},
		{[]string{"server", "status", "extra"}, `unknown command "extra" for "stigmer server status"`, "  stigmer server status [flags]"},
		{[]string{"server", "status", "--jsn"}, "unknown flag: --jsn", "  stigmer server status [flags]"},
		{[]string{"events", "--since"}, "flag needs an argument: --since", "  stigmer events [flags]"},
		{[]string{"backup"}, "accepts 1 arg(s), received 0", "  stigmer backup FILE [flags]"},
		{[]string{"restore", "a.db", "b.db"}, "accepts 1 arg(s), received 2", "  stigmer restore FILE [flags]"},
		{[]string{"alert", "tset"}, `unknown command "tset" for "stigmer alert"; did you mean "test"?`, "  stigmer alert [command]"},
		{[]string{"alert", "test", "now"}, `unknown command "now" for "stigmer alert test"`, "  stigmer alert test [flags]"},
		{[]string{"help", "bogus"}, `unknown command "bogus" for "stigmer" (its commands: alert, backup, completion, doctor, events, restore, server, version)`, "  stigmer help [command]"},
		{[]string{"help", "server", "sttus"}, `unknown command "sttus" for "stigmer server"; did you mean "status"?`, "  stigmer help [command]"},
		{[]string{"completion", "zhs"}, `unknown command "zhs" for "stigmer completion"; did you mean "zsh"?`, "  stigmer completion [command]"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			res := icmd.RunCmd(icmd.Command(stigmerBin, tc.args...), icmd.WithEnv(testEnv(t)...))
			res.Assert(t, icmd.Expected{ExitCode: 2, Err: "stigmer: " + tc.err + "\n\nUsage:\n"})
			assert.Check(t, is.Contains(res.Stderr(), tc.usage))
			assert.Check(t, is.Equal(res.Stdout(), ""))
		})
	}
	// A group alone is a request for its help.
	res := icmd.RunCmd(icmd.Command(stigmerBin, "server"))
	res.Assert(t, icmd.Expected{Out: "Available Commands:"})
	// help names a command, a group or none.
	for _, args := range [][]string{{"help"}, {"help", "server"}, {"help", "server", "status"}, {"help", "backup", "FILE"}} {
		res := icmd.RunCmd(icmd.Command(stigmerBin, args...))
		res.Assert(t, icmd.Expected{Out: "Usage:"})
	}
}

// --since takes what journalctl --since takes.
func TestEventsSinceTakesWhatJournalctlTakes(t *testing.T) {
	env := testEnv(t)
	s := startServer(t, env)
	s.waitReady(t)
	now := time.Now()
	for _, since := range []string{"today", "yesterday", now.Format("2006-01-02"), now.Add(-time.Minute).Format("2006-01-02 15:04"),
		now.Add(-time.Minute).UTC().Format("2006-01-02 15:04:05") + " UTC", "1h", "-2d", "2 hours ago", "-30min"} {
		l := events(t, env, "--since", since)[0].Events
		assert.Check(t, len(l) > 0 && l[0].Kind == "server-start", "--since %q: %+v", since, l)
	}
	assert.Check(t, is.Len(events(t, env, "--since", "tomorrow")[0].Events, 0))

	res := icmd.RunCmd(icmd.Command(stigmerBin, "events", "--since", "soon"), icmd.WithEnv(env...))
	res.Assert(t, icmd.Expected{ExitCode: 2, Err: `--since "soon" is not a time: use what journalctl --since takes, such as today, yesterday, 2026-12-06`})
}

// --json prints JSON on failure too: an object with the error, and for
// status the unit, when the server is down.
func TestJSONWhenTheServerIsDown(t *testing.T) {
	addr := freeAddr(t)
	env := testEnv(t, "STIGMER_DATA_DIR="+t.TempDir())
	var failure struct {
		Error    string `json:"error"`
		ExitCode int    `json:"exit_code"`
		Address  string `json:"address"`
	}
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"server", "status", "--json", "--address", addr}, 1, "cannot reach the stigmer server at " + addr},
		{[]string{"events", "--json"}, 1, "there is no history in "},
		{[]string{"events", "--json", "--since", "soon"}, 2, `--since "soon" is not a time`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			res := icmd.RunCmd(icmd.Command(stigmerBin, tc.args...), icmd.WithEnv(env...))
			res.Assert(t, icmd.Expected{ExitCode: tc.code, Err: tc.err})
			failure.Address = ""
			assert.NilError(t, json.Unmarshal([]byte(res.Stdout()), &failure), res.Stdout())
			assert.Check(t, is.Contains(failure.Error, tc.err))
			assert.Check(t, is.Equal(failure.ExitCode, tc.code))
			if tc.args[0] == "server" {
				assert.Check(t, is.Equal(failure.Address, addr))
			}
		})
	}
	// and JSON as before when it answers
	s := startServer(t, testEnv(t))
	s.waitReady(t)
	res := icmd.RunCmd(icmd.Command(stigmerBin, "server", "status", "--json", "--address", s.addr), icmd.WithEnv(env...))
	res.Assert(t, icmd.Success)
	var st api.Status
	assert.NilError(t, json.Unmarshal([]byte(res.Stdout()), &st))
	assert.Check(t, st.Ready)
}
