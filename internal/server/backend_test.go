package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/stigmer/stigmer/internal/api"
	"github.com/stigmer/stigmer/internal/supervisor"
)

// refusingBackend answers every runner call with err, through refusal as
// the server does.
type refusingBackend struct {
	api.Backend
	err error
}

func (b refusingBackend) Register(string, string) error { return refusal(b.err) }

func TestSupervisorErrorsGetTheirStatusCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
	}{
		{nil, http.StatusOK},
		{fmt.Errorf("%w %q", supervisor.ErrUnknownRunner, "nobody"), http.StatusNotFound},
		{supervisor.ErrUnknownInstance, http.StatusConflict},
		{supervisor.ErrStopping, http.StatusServiceUnavailable},
		{errors.New("disk on fire"), http.StatusInternalServerError},
	} {
		h := api.Handler(refusingBackend{err: tc.err}, nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", api.PathRegister, strings.NewReader(`{"name":"agent","token":"t"}`)))
		assert.Equal(t, rec.Code, tc.code, "error %v: body %s", tc.err, rec.Body)
		if tc.err != nil {
			// The client is told the supervisor's own words.
			var body struct{ Error string }
			assert.NilError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			assert.Equal(t, body.Error, tc.err.Error())
		}
	}
}
