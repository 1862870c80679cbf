package server

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/stigmer/stigmer/internal/control"
	"github.com/stigmer/stigmer/internal/supervisor"
)

// The supervisor's refusals end a runner (control.ErrRejected, with the
// supervisor's own words); other errors are ones it may retry.
func TestSupervisorRefusalsAreRejections(t *testing.T) {
	for _, tc := range []struct {
		err      error
		rejected bool
	}{
		{fmt.Errorf("%w %q", supervisor.ErrUnknownRunner, "nobody"), true},
		{supervisor.ErrUnknownInstance, true},
		{supervisor.ErrStopping, true},
		{errors.New("disk on fire"), false},
	} {
		err := rejected(tc.err)
		assert.Equal(t, errors.Is(err, control.ErrRejected), tc.rejected, "%v", tc.err)
		assert.Assert(t, errors.Is(err, tc.err))
		assert.Assert(t, strings.HasSuffix(err.Error(), tc.err.Error()))
	}
	assert.NilError(t, rejected(nil))
}
