package config

import (
	"slices"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestVarsAreWhatTheServerReads: the list the man page, the start-up
// warning and doctor use holds every variable Load reads, and nothing it
// does not (STIGMER_HOME is read by Home, for the dev server).
func TestVarsAreWhatTheServerReads(t *testing.T) {
	read := map[string]bool{"STIGMER_HOME": true}
	spy := func(k string) string {
		read[k] = true
		return map[string]string{"INVOCATION_ID": "x", "STIGMER_DATA_DIR": t.TempDir(), "STIGMER_LOG_DIR": t.TempDir()}[k]
	}
	_, err := Load(spy)
	assert.NilError(t, err)
	delete(read, "INVOCATION_ID") // systemd's, not an operator's
	delete(read, "HOME")
	var names []string
	for _, v := range Vars() {
		names = append(names, v.Name)
		assert.Check(t, v.Meaning != "", "%s has no meaning for the man page", v.Name)
	}
	var readNames []string
	for k := range read {
		readNames = append(readNames, k)
	}
	slices.Sort(names)
	slices.Sort(readNames)
	assert.DeepEqual(t, names, readNames)
}

func TestUnknown(t *testing.T) {
	got := Unknown([]string{
		"PATH=/usr/bin", "OPENAI_API_KEY=sk-x", "STIGMER_LISTEN=127.0.0.1:1", // known or not stigmer's
		"STIGMER_LISTN=127.0.0.1:1",          // one letter dropped
		"STIGMER_ALERT_INTERVLA=1m",          // two letters swapped
		"STIGMER_LISTN=again",                // named once
		"STIGMER_RUNNER_TOKEN=x",             // the runners'
		"STIGMER_COMPLETELY_DIFFERENT_THING", // far from everything
	})
	var names []string
	for _, u := range got {
		names = append(names, u.Name)
	}
	assert.DeepEqual(t, names, []string{"STIGMER_ALERT_INTERVLA", "STIGMER_COMPLETELY_DIFFERENT_THING", "STIGMER_LISTN", "STIGMER_RUNNER_TOKEN"})
	assert.Equal(t, got[0].String(), "STIGMER_ALERT_INTERVLA is not a stigmer variable and is ignored; did you mean STIGMER_ALERT_INTERVAL?")
	assert.Check(t, !got[1].Likely())
	assert.Check(t, is.Contains(got[1].String(), "(the closest is "))
	assert.Check(t, is.Contains(got[1].String(), "stigmer.service(8)"))
	assert.Equal(t, got[2].String(), "STIGMER_LISTN is not a stigmer variable and is ignored; did you mean STIGMER_LISTEN?")
	assert.Equal(t, got[3].String(), "STIGMER_RUNNER_TOKEN is set by the server for its runners, and ignored here; delete it")
	assert.Check(t, is.Len(Unknown([]string{"STIGMER_LISTEN=x", "HOME=/root"}), 0))
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "abc", 0}, {"abc", "", 3},
		{"LISTN", "LISTEN", 1}, {"LITSEN", "LISTEN", 1}, {"LSITEN", "LISTEN", 1}, {"LISTEM", "LISTEN", 1},
		{"kitten", "sitting", 3},
	} {
		assert.Check(t, is.Equal(editDistance(tc.a, tc.b), tc.want), "%q %q", tc.a, tc.b)
	}
}

func TestIsSecret(t *testing.T) {
	assert.Check(t, IsSecret("OPENAI_API_KEY"))
	assert.Check(t, IsSecret("STIGMER_ALERT_SMTP_PASSWORD"))
	assert.Check(t, !IsSecret("STIGMER_LISTEN"))
}
