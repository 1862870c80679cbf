package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"gotest.tools/v3/assert"
)

// idleBackend is a Backend with nothing to report.
type idleBackend struct{}

func (idleBackend) Status() Status                  { return Status{} }
func (idleBackend) Ready() (bool, string)           { return true, "" }
func (idleBackend) Register(string, string) error   { return nil }
func (idleBackend) Heartbeat(string, string) error  { return nil }
func (idleBackend) Deregister(string, string) error { return nil }

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
