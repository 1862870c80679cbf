package config

import (
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestAllowedHosts(t *testing.T) {
	load := func(v string) (*Config, error) {
		return Check(envOf(map[string]string{"HOME": "/home/x", AllowedHostsVar: v}))
	}
	// success
	for _, tc := range []struct {
		value string
		want  []AllowedHost
	}{
		{"", nil},
		{"stigmer.example.com", []AllowedHost{{"stigmer.example.com", ""}}},
		{" Stigmer.Internal.:7234 , metrics_host,10.0.0.5", []AllowedHost{{"stigmer.internal", "7234"}, {"metrics_host", ""}, {"10.0.0.5", ""}}},
		{"[2001:db8::1]:7234 2001:db8::2 [2001:db8::3]", []AllowedHost{{"2001:db8::1", "7234"}, {"2001:db8::2", ""}, {"2001:db8::3", ""}}},
		{"a,,b,", []AllowedHost{{"a", ""}, {"b", ""}}},
	} {
		c, err := load(tc.value)
		assert.NilError(t, err, tc.value)
		assert.DeepEqual(t, c.AllowedHosts, tc.want)
	}
	// failure: each says which entry and why, and the fix
	for _, tc := range []struct{ value, why string }{
		{"https://stigmer.example.com", `has "https://stigmer.example.com", which is a URL or a path`},
		{"ok.example,*.example.com", `has "*.example.com", which is a wildcard`},
		{"*", `has "*", which is a wildcard`},
		{"stigmer.example.com:http", "does not end in a port number from 1 to 65535"},
		{"stigmer.example.com:0", "does not end in a port number from 1 to 65535"},
		{"stigmer.example.com:", "does not end in a port number from 1 to 65535"},
		{"bad!name", "is neither an IP address nor a host name"},
		{"-lead.example", "is neither an IP address nor a host name"},
		{"[::1", "is not host or host:port"},
	} {
		_, err := load(tc.value)
		assert.ErrorContains(t, err, tc.why, tc.value)
		assert.ErrorContains(t, err, AllowedHostsVar+"=")
		assert.ErrorContains(t, err, "for example stigmer.example.com,metrics.internal:7234")
	}
}

func TestAllowedHostMatches(t *testing.T) {
	anyPort, onePort := AllowedHost{"stigmer.internal", ""}, AllowedHost{"stigmer.internal", "7234"}
	assert.Check(t, anyPort.Matches("stigmer.internal", ""))
	assert.Check(t, anyPort.Matches("STIGMER.internal.", "443"))
	assert.Check(t, onePort.Matches("stigmer.internal", "7234"))
	assert.Check(t, !onePort.Matches("stigmer.internal", "80"))
	assert.Check(t, !onePort.Matches("stigmer.internal", ""))
	assert.Check(t, !anyPort.Matches("evil.stigmer.internal", ""))
	assert.Check(t, is.Equal(onePort.String(), "stigmer.internal:7234"))
	assert.Check(t, is.Equal(AllowedHost{"::1", "7234"}.String(), "[::1]:7234"))
}
