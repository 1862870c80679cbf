package history

import (
	"testing"

	"gotest.tools/v3/assert"
)

// Tallies count across reopening, apart from the event counts.
func TestTalliesOutliveReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	got, err := s.Tallies()
	assert.NilError(t, err)
	assert.DeepEqual(t, got, map[string]uint64{})
	assert.NilError(t, s.Tally("a"))
	assert.NilError(t, s.Tally("a"))
	assert.NilError(t, s.Tally("b"))
	assert.NilError(t, s.Close())

	s = open(t, dir, Options{})
	assert.NilError(t, s.Tally("a"))
	got, err = s.Tallies()
	assert.NilError(t, err)
	assert.DeepEqual(t, got, map[string]uint64{"a": 3, "b": 1})
	counts, err := s.Counts()
	assert.NilError(t, err)
	assert.Equal(t, len(counts), 0, "tallies are not event counts: %v", counts)
}
