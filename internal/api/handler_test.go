package api

import (
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"

	"github.com/stigmer/stigmer/internal/history"
)

// idleBackend is a Backend with nothing to report.
type idleBackend struct{}

func (idleBackend) Status() Status        { return Status{} }
func (idleBackend) Ready() (bool, string) { return true, "" }

// events is a history stand-in: off without since, one event with it.
func events(since time.Time) ([]history.Event, error) {
	if since.IsZero() {
		return nil, errors.New("history off: a stand-in reason")
	}
	return []history.Event{{Seq: 7, Time: since, Kind: history.ServerStart}}, nil
}

// TestEventsRoute: since is checked, the history's refusal is a 503 with
// its reason; and the public API does not serve the history at all.
func TestEventsRoute(t *testing.T) {
	h := EventsHandler(events)
	for _, tc := range []struct {
		query string
		code  int
		body  string
	}{
		{"?since=2026-11-29T06:00:00Z", http.StatusOK, `"kind":"server-start"`},
		{"?since=yesterday", http.StatusBadRequest, "since is not an RFC 3339 time"},
		{"", http.StatusServiceUnavailable, "history off: a stand-in reason"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", PathEvents+tc.query, nil))
		assert.Equal(t, rec.Code, tc.code, tc.query)
		assert.Assert(t, strings.Contains(rec.Body.String(), tc.body), "%s: %s", tc.query, rec.Body.String())
	}
	rec := httptest.NewRecorder()
	Handler(idleBackend{}, nil).ServeHTTP(rec, httptest.NewRequest("GET", PathEvents, nil))
	assert.Equal(t, rec.Code, http.StatusNotFound, "the public API serves the history")
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
// mode is, with the server's reason.
func TestClientEventsRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusForbidden, errorBody{Error: "uid 1000 may not read the history"})
	}))
	defer srv.Close()
	_, err := NewClient(srv.URL).Events(t.Context(), time.Time{})
	assert.ErrorIs(t, err, fs.ErrPermission)
	assert.ErrorContains(t, err, "403 Forbidden: uid 1000 may not read the history")
}
