package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/stigmer/stigmer/internal/config"
)

func TestCheckHost(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, tc := range []struct {
		name    string
		addrs   []string
		allowed []config.AllowedHost
		host    string
		want    int
	}{
		// success: names of the listen address, with or without port
		{"bound address", []string{"127.0.0.1:7234"}, nil, "127.0.0.1:7234", 204},
		{"localhost", []string{"127.0.0.1:7234"}, nil, "localhost", 204},
		{"IPv6 loopback", []string{"127.0.0.1:7234"}, nil, "[::1]:7234", 204},
		{"configured host", []string{"192.0.2.10:7234", "192.0.2.10:7234"}, nil, "192.0.2.10", 204},
		{"any IP when listening everywhere", []string{"[::]:7234", "0.0.0.0:7234"}, nil, "198.51.100.4:7234", 204},
		{"no Host (HTTP/1.0)", []string{"127.0.0.1:7234"}, nil, "", 204},
		// success: STIGMER_ALLOWED_HOSTS
		{"an allowed name, any port", []string{"127.0.0.1:7234"}, []config.AllowedHost{{Host: "stigmer.internal"}}, "Stigmer.Internal:7234", 204},
		{"an allowed name without port", []string{"127.0.0.1:7234"}, []config.AllowedHost{{Host: "stigmer.internal"}}, "stigmer.internal", 204},
		{"an allowed name and its port", []string{"127.0.0.1:7234"}, []config.AllowedHost{{Host: "stigmer.internal", Port: "443"}}, "stigmer.internal:443", 204},
		{"an allowed IPv6 address", []string{"127.0.0.1:7234"}, []config.AllowedHost{{Host: "2001:db8::1"}}, "[2001:db8::1]:7234", 204},
		// failure: other names, which DNS rebinding sends
		{"another name", []string{"127.0.0.1:7234"}, nil, "attacker.example", 421},
		{"another name with our port", []string{"127.0.0.1:7234"}, nil, "attacker.example:7234", 421},
		{"a name when listening everywhere", []string{"[::]:7234", "0.0.0.0:7234"}, nil, "attacker.example", 421},
		{"another IP", []string{"127.0.0.1:7234"}, nil, "192.0.2.1", 421},
		{"an allowed name on another port", []string{"127.0.0.1:7234"}, []config.AllowedHost{{Host: "stigmer.internal", Port: "443"}}, "stigmer.internal:7234", 421},
		{"a name under an allowed one", []string{"127.0.0.1:7234"}, []config.AllowedHost{{Host: "stigmer.internal"}}, "evil.stigmer.internal", 421},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/readyz", nil)
			r.Host = tc.host
			w := httptest.NewRecorder()
			CheckHost(ok, tc.allowed, tc.addrs...).ServeHTTP(w, r)
			assert.Equal(t, w.Code, tc.want, w.Body.String())
			if tc.want == 421 {
				assert.Check(t, strings.Contains(w.Body.String(), "add the name to STIGMER_ALLOWED_HOSTS"), w.Body.String())
			}
		})
	}
}
