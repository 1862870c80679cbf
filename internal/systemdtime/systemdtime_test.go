package systemdtime

import (
	"errors"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestSince(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	assert.NilError(t, err)
	now := time.Date(2026, 12, 7, 15, 4, 5, 0, berlin) // a Monday
	at := func(y int, mo time.Month, d, h, mi, s int) time.Time { return time.Date(y, mo, d, h, mi, s, 0, berlin) }
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		// words
		{"now", now}, {"today", at(2026, 12, 7, 0, 0, 0)}, {"Yesterday", at(2026, 12, 6, 0, 0, 0)}, {"tomorrow", at(2026, 12, 8, 0, 0, 0)},
		// dates, times, both, as journalctl takes them
		{"2026-12-06", at(2026, 12, 6, 0, 0, 0)},
		{"2026-12-06 14:30", at(2026, 12, 6, 14, 30, 0)},
		{"2026-12-06 14:30:15", at(2026, 12, 6, 14, 30, 15)},
		{"2026-12-06 14:30:15.5", at(2026, 12, 6, 14, 30, 15).Add(500 * time.Millisecond)},
		{"Sun 2026-12-06 14:30", at(2026, 12, 6, 14, 30, 0)},
		{"Thursday 2026-12-03", at(2026, 12, 3, 0, 0, 0)},
		{"09:00", at(2026, 12, 7, 9, 0, 0)},
		{"2026-12-06T14:30:00", at(2026, 12, 6, 14, 30, 0)},
		// zones
		{"2026-12-06 14:30 UTC", time.Date(2026, 12, 6, 14, 30, 0, 0, time.UTC)},
		{"2026-12-06T14:30:00Z", time.Date(2026, 12, 6, 14, 30, 0, 0, time.UTC)},
		{"2026-11-29T06:00:00+05:30", time.Date(2026, 11, 29, 0, 30, 0, 0, time.UTC)},
		{"2026-12-06 14:30 America/New_York", time.Date(2026, 12, 6, 19, 30, 0, 0, time.UTC)},
		{"09:00 UTC", time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)},
		{"@1700000000", time.Unix(1700000000, 0)},
		// spans back from now
		{"1h", now.Add(-time.Hour)}, {"30m", now.Add(-30 * time.Minute)}, {"30min", now.Add(-30 * time.Minute)},
		{"-2d", now.Add(-48 * time.Hour)}, {"2 hours ago", now.Add(-2 * time.Hour)}, {"1h 30min ago", now.Add(-90 * time.Minute)},
		{"-1w", now.Add(-7 * 24 * time.Hour)}, {"+5min", now.Add(5 * time.Minute)}, {"90", now.Add(-90 * time.Second)},
		{"1M", now.Add(-2629800 * time.Second)},
	} {
		got, err := Since(tc.in, now)
		assert.Check(t, err, tc.in)
		assert.Check(t, got.Equal(tc.want), "%q: got %s, want %s", tc.in, got, tc.want)
	}
	// failure
	for _, in := range []string{"", "soon", "2026-13-01", "2026-12-06 25:00", "Mon 2026-12-06", "2 fortnights ago", "-", "@x", "12/06/2026", "1h and more"} {
		_, err := Since(in, now)
		assert.Check(t, errors.Is(err, ErrSyntax), "%q: %v", in, err)
	}
}

func TestSpan(t *testing.T) {
	d, err := Span("1d 2h 3min 4s 5ms")
	assert.NilError(t, err)
	assert.Check(t, is.Equal(d, 26*time.Hour+3*time.Minute+4*time.Second+5*time.Millisecond))
	_, err = Span("3 lightyears")
	assert.Check(t, is.ErrorContains(err, `unknown unit "lightyears"`))
}
