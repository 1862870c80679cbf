package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"gotest.tools/v3/assert"
)

func TestCheckHost(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, tc := range []struct {
		name  string
		addrs []string
		host  string
		want  int
	}{
		// success: names of the listen address, with or without port
		{"bound address", []string{"127.0.0.1:7234"}, "127.0.0.1:7234", 204},
		{"localhost", []string{"127.0.0.1:7234"}, "localhost", 204},
		{"IPv6 loopback", []string{"127.0.0.1:7234"}, "[::1]:7234", 204},
		{"configured host", []string{"192.0.2.10:7234", "192.0.2.10:7234"}, "192.0.2.10", 204},
		{"any IP when listening everywhere", []string{"[::]:7234", "0.0.0.0:7234"}, "198.51.100.4:7234", 204},
		{"no Host (HTTP/1.0)", []string{"127.0.0.1:7234"}, "", 204},
		// failure: other names, which DNS rebinding sends
		{"another name", []string{"127.0.0.1:7234"}, "attacker.example", 421},
		{"another name with our port", []string{"127.0.0.1:7234"}, "attacker.example:7234", 421},
		{"a name when listening everywhere", []string{"[::]:7234", "0.0.0.0:7234"}, "attacker.example", 421},
		{"another IP", []string{"127.0.0.1:7234"}, "192.0.2.1", 421},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/readyz", nil)
			r.Host = tc.host
			w := httptest.NewRecorder()
			CheckHost(ok, tc.addrs...).ServeHTTP(w, r)
			assert.Equal(t, w.Code, tc.want, w.Body.String())
		})
	}
}
