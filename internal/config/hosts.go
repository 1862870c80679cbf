package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"unicode"
)

// AllowedHostsVar names more Host header values the API answers to, for a
// reverse proxy or a scraper that reaches it by name.
const AllowedHostsVar = "STIGMER_ALLOWED_HOSTS"

// AllowedHost is one entry of STIGMER_ALLOWED_HOSTS: a host name or IP
// address (see NormalizeHost), and a port, "" when any port goes.
type AllowedHost struct{ Host, Port string }

func (h AllowedHost) String() string {
	if h.Port == "" {
		return h.Host
	}
	return net.JoinHostPort(h.Host, h.Port)
}

// Matches reports whether a Host header's host and port ("" when it named
// none) are this entry's.
func (h AllowedHost) Matches(host, port string) bool {
	return NormalizeHost(host) == h.Host && (h.Port == "" || h.Port == port)
}

// NormalizeHost is a host as the Host check compares it: lower case,
// without the brackets of an IPv6 literal or the trailing dot of a fully
// qualified name.
func NormalizeHost(host string) string {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// loadAllowedHosts reads STIGMER_ALLOWED_HOSTS: entries separated by
// commas or white space.
func (c *Config) loadAllowedHosts(getenv Getenv) error {
	raw := getenv(AllowedHostsVar)
	for _, entry := range strings.FieldsFunc(raw, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		h, why := parseAllowedHost(entry)
		if why != "" {
			return &Error{Var: AllowedHostsVar, Value: raw, Fix: fmt.Sprintf(
				"has %q, which %s; list host names or IP addresses, each with an optional :port, separated by commas, for example stigmer.example.com,metrics.internal:7234", entry, why)}
		}
		c.AllowedHosts = append(c.AllowedHosts, h)
	}
	return nil
}

// parseAllowedHost reads one entry, or says why it is not one.
func parseAllowedHost(entry string) (AllowedHost, string) {
	switch {
	case strings.Contains(entry, "/"):
		return AllowedHost{}, "is a URL or a path, not a host (name the host alone, as the Host header does)"
	case strings.Contains(entry, "*"):
		return AllowedHost{}, "is a wildcard: they are not taken, as any name would let DNS rebinding in (list each name)"
	}
	host, port := entry, ""
	if strings.HasPrefix(entry, "[") || strings.Count(entry, ":") == 1 {
		var err error
		if host, port, err = net.SplitHostPort(entry); err != nil {
			if !strings.HasSuffix(entry, "]") {
				return AllowedHost{}, "is not host or host:port"
			}
			host = entry // a bracketed IPv6 address without port
		}
		if n, err := strconv.Atoi(port); port != "" && (err != nil || n < 1 || n > 65535) || port == "" && strings.HasSuffix(entry, ":") {
			return AllowedHost{}, "does not end in a port number from 1 to 65535"
		}
	}
	host = NormalizeHost(host)
	if net.ParseIP(host) == nil && !hostName(host) {
		return AllowedHost{}, "is neither an IP address nor a host name (letters, digits, hyphens and dots)"
	}
	return AllowedHost{Host: host, Port: port}, ""
}

// hostName reports whether s is a DNS name: dot-separated labels of 1 to
// 63 letters, digits, hyphens (not first or last) and underscores (which
// container and internal names use), 253 bytes at most.
func hostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}
