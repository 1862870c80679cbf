package api

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/stigmer/stigmer/internal/history"
)

// Backend is what the handler serves: the server's state.
type Backend interface {
	Status() Status
	Ready() (bool, string)
}

// Handler returns the API's routes over b. metrics, when not nil, serves
// GET and HEAD PathMetrics (other methods get 405); it is written by the
// metrics package, not here, because its body is Prometheus' exposition
// format, not JSON.
func Handler(b Backend, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	if metrics != nil {
		mux.Handle("GET "+PathMetrics, metrics) // GET patterns match HEAD too
	}
	mux.HandleFunc("GET "+PathHealth, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
	})
	mux.HandleFunc("GET "+PathReady, func(w http.ResponseWriter, _ *http.Request) {
		ok, reason := b.Ready()
		code := http.StatusOK
		if !ok {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, Readiness{Ready: ok, Reason: reason})
	})
	mux.HandleFunc("GET "+PathStatus, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, b.Status())
	})
	return mux
}

// EventsHandler serves GET PathEvents from events: the history at or
// after ?since= (RFC 3339; all when absent). It is not on the public API:
// the history quotes the server's log lines, and the operator socket
// serves it to root and the service's user alone.
func EventsHandler(events func(since time.Time) ([]history.Event, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var since time.Time
		if v := r.URL.Query().Get("since"); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, errorBody{Error: "since is not an RFC 3339 time (for example 2026-11-29T06:00:00Z): " + v})
				return
			}
			since = t
		}
		list, err := events(since)
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, EventList{Events: list})
	})
}

func writeJSON(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	// A write error means the client went away; there is no one to tell.
	_ = json.NewEncoder(w).Encode(body)
}

// BackupHandler serves GET PathBackup: the history as backup copies it,
// first into an unlinked temporary file, then whole to the client with
// its length. The copy holds a read transaction of the history for as
// long as it takes to write the file, not for as long as a slow client
// takes to read. Not on the public API: the operator socket serves it to
// root and the service's user alone.
func BackupHandler(backup func(io.Writer) (int64, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		f, err := os.CreateTemp("", "stigmer-backup-*")
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, errorBody{Error: "making a temporary file for the copy: " + err.Error()})
			return
		}
		defer f.Close()
		// Its space goes with the last descriptor, whatever happens next.
		if err := os.Remove(f.Name()); err != nil {
			writeJSON(w, http.StatusInternalServerError, errorBody{Error: "making a temporary file for the copy: " + err.Error()})
			return
		}
		n, err := backup(f)
		if err == nil {
			_, err = f.Seek(0, io.SeekStart)
		}
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: err.Error()})
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		w.WriteHeader(http.StatusOK)
		_, _ = io.Copy(w, f) // a failed write: the caller left, and sees a short copy
	})
}

// AlertTestHandler serves POST PathAlertTest with what test did. Not on
// the public API.
func AlertTestHandler(test func(*http.Request) AlertTest) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, test(r))
	})
}
