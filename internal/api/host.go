package api

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/stigmer/stigmer/internal/config"
)

// CheckHost serves only requests whose Host header names the address the
// API listens on, and answers others 421 Misdirected Request. This defeats
// DNS rebinding: a web page in a browser on this machine whose own name
// was re-pointed at 127.0.0.1 still sends its own name as Host. Accepted
// hosts, with or without a port: localhost and loopback IPs, the host of
// each of addrs (host:port listen addresses: the configured one and the
// bound one), and, when one of them is every interface (0.0.0.0, ::), any
// IP literal (a rebinding attack needs a name); and the operator's
// allowed hosts (STIGMER_ALLOWED_HOSTS: a reverse proxy's or a scraper's
// name for this server). A request without Host (HTTP/1.0) is served:
// browsers always send one. addrs must not be empty; the first is the one
// the refusal suggests.
func CheckHost(next http.Handler, allowed []config.AllowedHost, addrs ...string) http.Handler {
	named := map[string]bool{}
	anyIP := false
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			continue
		}
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			anyIP = true
			continue
		}
		named[strings.ToLower(host)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, port := requestHost(r.Host)
		ok := r.Host == "" || config.IsLoopback(host) || named[strings.ToLower(host)] ||
			(anyIP && net.ParseIP(host) != nil) ||
			slices.ContainsFunc(allowed, func(a config.AllowedHost) bool { return a.Matches(host, port) })
		if !ok {
			writeJSON(w, http.StatusMisdirectedRequest, errorBody{Error: fmt.Sprintf(
				"Host %q does not name this server; use http://%s, or add the name to %s (requests naming other hosts are refused to defeat DNS rebinding)",
				r.Host, addrs[0], config.AllowedHostsVar)})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requestHost splits a Host header value into its host, without the
// brackets of an IPv6 literal, and its port ("" when it names none).
func requestHost(h string) (host, port string) {
	if host, port, err := net.SplitHostPort(h); err == nil {
		return host, port
	}
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), ""
}
