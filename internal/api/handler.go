package api

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/stigmer/stigmer/internal/history"
)

// Backend is what the handler serves: the server's state.
type Backend interface {
	Status() Status
	Ready() (bool, string)
	Events(since time.Time) ([]history.Event, error)
	// MayReadHistory says whether the client at peer, connected to this
	// server's local address, may read the history (it quotes the
	// server's log lines, which the file keeps from other users).
	MayReadHistory(peer, local netip.AddrPort) error
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
	mux.HandleFunc("GET "+PathEvents, func(w http.ResponseWriter, r *http.Request) {
		if err := b.MayReadHistory(connEnds(r)); err != nil {
			writeJSON(w, http.StatusForbidden, errorBody{Error: err.Error()})
			return
		}
		var since time.Time
		if v := r.URL.Query().Get("since"); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, errorBody{Error: "since is not an RFC 3339 time (for example 2026-11-29T06:00:00Z): " + v})
				return
			}
			since = t
		}
		events, err := b.Events(since)
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, EventList{Events: events})
	})
	return mux
}

// connEnds returns the client's and this server's address of r's
// connection; zero values where they are not TCP addresses.
func connEnds(r *http.Request) (peer, local netip.AddrPort) {
	peer, _ = netip.ParseAddrPort(r.RemoteAddr)
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
		local = a.AddrPort()
	}
	return peer, local
}

func writeJSON(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	// A write error means the client went away; there is no one to tell.
	_ = json.NewEncoder(w).Encode(body)
}
