package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/stigmer/stigmer/internal/history"
)

// Client talks to the API at BaseURL ("http://127.0.0.1:7234").
type Client struct {
	BaseURL string
	HTTP    *http.Client
}

// NewClient returns a client with a short per-request timeout (everything
// is on this machine, so a slow answer means a stuck server) that never
// goes through a proxy (see LocalTransport).
func NewClient(baseURL string) *Client {
	return &Client{BaseURL: baseURL, HTTP: &http.Client{Timeout: 5 * time.Second, Transport: LocalTransport()}}
}

// NewClientDialing is NewClient whose connections dial makes: a Unix
// socket's, or TCP that checks who listens (see package peer).
func NewClientDialing(baseURL string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *Client {
	t := LocalTransport()
	t.DialContext = dial
	return &Client{BaseURL: baseURL, HTTP: &http.Client{Timeout: 5 * time.Second, Transport: t}}
}

// LocalTransport is http.DefaultTransport without a proxy: the server's
// clients (runners, the health check, the CLI, doctor) talk to a server
// on this machine, and HTTP_PROXY from their environment must not send
// their requests, with a runner's token, elsewhere. Go leaves loopback
// addresses alone, but not the other addresses of this host, nor
// 0.0.0.0, which is what a server listening beyond loopback gives its
// clients.
func LocalTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	return t
}

// Status fetches GET /api/v1/status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	_, err := c.do(ctx, http.MethodGet, PathStatus, nil, &st, http.StatusOK)
	return st, err
}

// Events fetches GET /api/v1/events, the history at or after since (all
// when zero), from the operator socket (the public API does not serve it).
func (c *Client) Events(ctx context.Context, since time.Time) ([]history.Event, error) {
	path := PathEvents
	if !since.IsZero() {
		path += "?since=" + url.QueryEscape(since.Format(time.RFC3339Nano))
	}
	var list EventList
	code, err := c.do(ctx, http.MethodGet, path, nil, &list, http.StatusOK)
	if code == http.StatusForbidden {
		// As the file's mode refuses it: callers say "run as root" for both.
		err = fmt.Errorf("%w (%w)", err, fs.ErrPermission)
	}
	return list.Events, err
}

// Ready fetches GET /readyz; a 503 is a result, not an error.
func (c *Client) Ready(ctx context.Context) (Readiness, error) {
	var rd Readiness
	_, err := c.do(ctx, http.MethodGet, PathReady, nil, &rd, http.StatusOK, http.StatusServiceUnavailable)
	return rd, err
}

// do sends one request and decodes the JSON answer into out when the
// status is one of ok. It returns the status code (0 without an answer).
func (c *Client) do(ctx context.Context, method, path string, in, out any, ok ...int) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, fmt.Errorf("encoding request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return 0, fmt.Errorf("building request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	// The history's 10 000 events are a few MiB.
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("reading answer of %s %s: %w", method, path, err)
	}
	for _, code := range ok {
		if resp.StatusCode == code {
			if out == nil {
				return code, nil
			}
			if err := json.Unmarshal(data, out); err != nil {
				return code, fmt.Errorf("decoding answer of %s %s: %w", method, path, err)
			}
			return code, nil
		}
	}
	var eb errorBody
	if json.Unmarshal(data, &eb) == nil && eb.Error != "" {
		return resp.StatusCode, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, eb.Error)
	}
	return resp.StatusCode, fmt.Errorf("%s %s: %s", method, path, resp.Status)
}
