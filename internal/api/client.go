package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
	// A refusal is a permission error, as the file's mode gives: callers
	// say "run as root" for both.
	_, err := c.do(ctx, http.MethodGet, path, nil, &list, http.StatusOK)
	return list.Events, err
}

// ErrNotServed is an operation the server does not have: it is older
// than the command.
var ErrNotServed = errors.New("not served by this server")

// Backup copies the history from the operator socket into w (GET
// PathBackup) and returns the bytes written; the copy is whole only when
// err is nil. It waits as long as ctx lets it, not the client's timeout.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL+PathBackup, nil)
	if err != nil {
		return 0, fmt.Errorf("building request: %w", err)
	}
	resp, err := c.untimed().HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, answerError(http.MethodGet, PathBackup, resp)
	}
	n, err := io.Copy(w, resp.Body)
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = fmt.Errorf("the copy ended after %d of %d bytes", n, resp.ContentLength)
	}
	return n, err
}

// AlertTest has the server send a test alert (POST PathAlertTest) and
// returns how it went to each sink; it waits as long as ctx lets it.
func (c *Client) AlertTest(ctx context.Context) (AlertTest, error) {
	var at AlertTest
	_, err := c.untimed().do(ctx, http.MethodPost, PathAlertTest, nil, &at, http.StatusOK)
	return at, err
}

// untimed is c without the client's own timeout, for the operations
// that take as long as they take (their ctx bounds them).
func (c *Client) untimed() *Client {
	hc := *c.HTTP
	hc.Timeout = 0
	return &Client{BaseURL: c.BaseURL, HTTP: &hc}
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
	return resp.StatusCode, statusError(method, path, resp, data)
}

// answerError is the error of an answer that is not what was asked for.
func answerError(method, path string, resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return statusError(method, path, resp, data)
}

// statusError names the answer's status and the server's message; a
// refusal (403) is a permission error, as the file's mode is, and a route
// the server does not have (404) is ErrNotServed.
func statusError(method, path string, resp *http.Response, data []byte) error {
	var eb errorBody
	err := fmt.Errorf("%s %s: %s", method, path, resp.Status)
	if json.Unmarshal(data, &eb) == nil && eb.Error != "" {
		err = fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, eb.Error)
	}
	switch resp.StatusCode {
	case http.StatusForbidden:
		return fmt.Errorf("%w (%w)", err, fs.ErrPermission)
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return fmt.Errorf("%w (%w)", err, ErrNotServed)
	}
	return err
}
