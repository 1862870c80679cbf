package api

import (
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"

	"github.com/stigmer/stigmer/internal/history"
)

// idleBackend is a Backend with nothing to report.
type idleBackend struct{}

func (idleBackend) Status() Status                  { return Status{} }
func (idleBackend) Ready() (bool, string)           { return true, "" }
func (idleBackend) Register(string, string) error   { return nil }
func (idleBackend) Heartbeat(string, string) error  { return nil }
func (idleBackend) Deregister(string, string) error { return nil }
func (idleBackend) Events(since time.Time) ([]history.Event, error) {
	if since.IsZero() {
		return nil, errors.New("history off: a stand-in reason")
	}
	return []history.Event{{Seq: 7, Time: since, Kind: history.ServerStart}}, nil
}

// MayReadHistory refuses clients on port 4444, and takes the others.
func (idleBackend) MayReadHistory(peer, _ netip.AddrPort) error {
	if peer.Port() == 4444 {
		return errors.New("uid 1000 may not read the history")
	}
	return nil
}

// TestEventsRoute: since is checked, the history's refusal is a 503 with
// its reason.
func TestEventsRoute(t *testing.T) {
	h := Handler(idleBackend{}, nil)
	for _, tc := range []struct {
		peer  string
		query string
		code  int
		body  string
	}{
		{"127.0.0.1:5555", "?since=2026-11-29T06:00:00Z", http.StatusOK, `"kind":"server-start"`},
		{"127.0.0.1:5555", "?since=yesterday", http.StatusBadRequest, "since is not an RFC 3339 time"},
		{"127.0.0.1:5555", "", http.StatusServiceUnavailable, "history off: a stand-in reason"},
		{"127.0.0.1:4444", "?since=2026-11-29T06:00:00Z", http.StatusForbidden, `{"error":"uid 1000 may not read the history"}`},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", PathEvents+tc.query, nil)
		req.RemoteAddr = tc.peer
		h.ServeHTTP(rec, req)
		assert.Equal(t, rec.Code, tc.code, tc.query)
		assert.Assert(t, strings.Contains(rec.Body.String(), tc.body), "%s: %s", tc.query, rec.Body.String())
	}
}

func TestMetricsRoute(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	for _, tc := range []struct {
		name    string
		metrics http.Handler
		method  string
		want    int
		allow   string
	}{
		// success: what a scraper sends
		{"GET", metrics, "GET", http.StatusTeapot, ""},
		{"HEAD", metrics, "HEAD", http.StatusTeapot, ""},
		// failure: nothing else reads or changes metrics
		{"POST", metrics, "POST", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"DELETE", metrics, "DELETE", http.StatusMethodNotAllowed, "GET, HEAD"},
		// no-op: without a metrics handler there is no route
		{"no handler", nil, "GET", http.StatusNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			Handler(idleBackend{}, tc.metrics).ServeHTTP(w, httptest.NewRequest(tc.method, PathMetrics, nil))
			assert.Equal(t, w.Code, tc.want, w.Body.String())
			assert.Equal(t, w.Header().Get("Allow"), tc.allow)
		})
	}
}

// A refused history is a permission error for the client, as the file's
// mode is, with the server's reason; the backend is asked with the real
// connection's ends.
func TestClientEventsRefused(t *testing.T) {
	b := &refusingBackend{}
	srv := httptest.NewServer(Handler(b, nil))
	defer srv.Close()
	_, err := NewClient(srv.URL).Events(t.Context(), time.Time{})
	assert.ErrorIs(t, err, fs.ErrPermission)
	assert.ErrorContains(t, err, "403 Forbidden: uid 1000 may not read the history")
	assert.Equal(t, b.peer.Addr().String(), "127.0.0.1")
	assert.Equal(t, b.local.String(), strings.TrimPrefix(srv.URL, "http://"))
}

// refusingBackend refuses every reader of the history and keeps the
// connection's ends it was last asked about.
type refusingBackend struct {
	idleBackend
	peer, local netip.AddrPort
}

func (b *refusingBackend) MayReadHistory(peer, local netip.AddrPort) error {
	b.peer, b.local = peer, local
	return errors.New("uid 1000 may not read the history")
}
