// Package systemdtime reads timestamps and time spans the way systemd
// writes them (systemd.time(7)), so that `stigmer events --since` takes
// what `journalctl --since` takes: today, yesterday, a date, a date and
// time, a time of today, @epoch, and a span back from now (-2d, 2 hours
// ago). It does not read calendar events (OnCalendar=), which --since
// never needs.
package systemdtime

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrSyntax is returned, wrapped, for text that is neither a timestamp nor
// a time span.
var ErrSyntax = errors.New("not a timestamp or time span")

// Since reads s as a point in time, relative to now, as journalctl's
// --since does; a bare span ("1h", "30min") also means that long ago. A
// date or time without a zone is in now's location.
func Since(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "now":
		return now, nil
	case "today":
		return midnight(now, 0), nil
	case "yesterday":
		return midnight(now, -1), nil
	case "tomorrow":
		return midnight(now, 1), nil
	}
	if epoch, ok := strings.CutPrefix(s, "@"); ok {
		sec, err := strconv.ParseFloat(epoch, 64)
		if err != nil || math.IsInf(sec, 0) || math.IsNaN(sec) {
			return time.Time{}, fmt.Errorf("%q: @ must be followed by seconds since 1970: %w", s, ErrSyntax)
		}
		return time.Unix(0, int64(sec*1e9)).In(now.Location()), nil
	}
	if span, ok := strings.CutPrefix(s, "-"); ok {
		return sub(now, span, s)
	}
	if span, ok := strings.CutPrefix(s, "+"); ok {
		d, err := Span(span)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q: %w", s, err)
		}
		return now.Add(d), nil
	}
	if span, ok := strings.CutSuffix(s, " ago"); ok {
		return sub(now, span, s)
	}
	if t, err := timestamp(s, now); err == nil {
		return t, nil
	}
	if d, err := Span(s); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q: %w", s, ErrSyntax)
}

func sub(now time.Time, span, whole string) (time.Time, error) {
	d, err := Span(span)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: %w", whole, err)
	}
	return now.Add(-d), nil
}

// midnight is the start of the day days after now's, in now's location.
func midnight(now time.Time, days int) time.Time {
	y, m, d := now.Date()
	return time.Date(y, m, d+days, 0, 0, 0, 0, now.Location())
}

// units are systemd.time(7)'s time span units. "M" (month) and "m"
// (minute) differ by case only, so units are matched as written.
var units = map[string]time.Duration{
	"usec": time.Microsecond, "us": time.Microsecond, "µs": time.Microsecond,
	"msec": time.Millisecond, "ms": time.Millisecond,
	"seconds": time.Second, "second": time.Second, "sec": time.Second, "s": time.Second, "": time.Second,
	"minutes": time.Minute, "minute": time.Minute, "min": time.Minute, "m": time.Minute,
	"hours": time.Hour, "hour": time.Hour, "hr": time.Hour, "h": time.Hour,
	"days": 24 * time.Hour, "day": 24 * time.Hour, "d": 24 * time.Hour,
	"weeks": 7 * 24 * time.Hour, "week": 7 * 24 * time.Hour, "w": 7 * 24 * time.Hour,
	// systemd's month and year: 30.44 and 365.25 days.
	"months": 2629800 * time.Second, "month": 2629800 * time.Second, "M": 2629800 * time.Second,
	"years": 31557600 * time.Second, "year": 31557600 * time.Second, "y": 31557600 * time.Second,
}

var spanPart = regexp.MustCompile(`^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Zµ]*)`)

// Span reads a time span: numbers with units, summed ("1h 30min", "2
// hours", "1.5d", "90"); a number without unit is seconds.
func Span(s string) (time.Duration, error) {
	rest := strings.TrimSpace(s)
	if rest == "" {
		return 0, fmt.Errorf("an empty time span: %w", ErrSyntax)
	}
	var total float64
	for rest != "" {
		m := spanPart.FindStringSubmatch(rest)
		if m == nil {
			return 0, fmt.Errorf("%q is not a time span such as 2h, 30min or 1d 12h: %w", s, ErrSyntax)
		}
		unit, ok := units[m[2]]
		if !ok {
			return 0, fmt.Errorf("%q has the unknown unit %q (use s, min, h, d, w, M or y): %w", s, m[2], ErrSyntax)
		}
		n, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			return 0, fmt.Errorf("%q: %w", s, ErrSyntax)
		}
		total += n * float64(unit)
		rest = strings.TrimSpace(rest[len(m[0]):])
	}
	if total > math.MaxInt64 {
		return 0, fmt.Errorf("%q is longer than %s: %w", s, time.Duration(math.MaxInt64), ErrSyntax)
	}
	return time.Duration(total), nil
}

// weekdays may open a timestamp; systemd checks them, and so does this.
var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "sunday": time.Sunday, "mon": time.Monday, "monday": time.Monday,
	"tue": time.Tuesday, "tuesday": time.Tuesday, "wed": time.Wednesday, "wednesday": time.Wednesday,
	"thu": time.Thursday, "thursday": time.Thursday, "fri": time.Friday, "friday": time.Friday,
	"sat": time.Saturday, "saturday": time.Saturday,
}

// dateT is the T between date and time of an ISO 8601 timestamp.
var dateT = regexp.MustCompile(`([0-9])T([0-9])`)

// timestamp reads [WEEKDAY] [DATE] [TIME] [ZONE], with a date or a time or
// both: DATE is YYYY-MM-DD, TIME HH:MM[:SS[.frac]] (a date without time is
// its midnight, a time without date today's), ZONE is UTC, Z, an offset
// (+05:30) or a zone name (Europe/Berlin). RFC 3339 (a T between date and
// time) is read too.
func timestamp(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	fields := strings.Fields(dateT.ReplaceAllString(s, "$1 $2"))
	var wday *time.Weekday
	if len(fields) > 0 {
		if w, ok := weekdays[strings.ToLower(fields[0])]; ok {
			wday, fields = &w, fields[1:]
		}
	}
	loc := now.Location()
	if n := len(fields); n > 1 || n == 1 && !strings.ContainsAny(fields[0], "-:") {
		if l, ok := zone(fields[n-1]); ok {
			loc, fields = l, fields[:n-1]
		}
	}
	var date, clock string
	switch len(fields) {
	case 1:
		if strings.Contains(fields[0], ":") {
			clock = fields[0]
		} else {
			date = fields[0]
		}
	case 2:
		date, clock = fields[0], fields[1]
	default:
		return time.Time{}, ErrSyntax
	}
	y, mo, d := now.In(loc).Date()
	if date != "" {
		t, err := time.Parse("2006-01-02", date)
		if err != nil {
			return time.Time{}, ErrSyntax
		}
		y, mo, d = t.Date()
	}
	var h, mi, sec, nsec int
	if clock != "" {
		t, err := parseClock(clock)
		if err != nil {
			return time.Time{}, err
		}
		h, mi, sec, nsec = t.Hour(), t.Minute(), t.Second(), t.Nanosecond()
	}
	t := time.Date(y, mo, d, h, mi, sec, nsec, loc)
	if wday != nil && t.Weekday() != *wday {
		return time.Time{}, fmt.Errorf("%s is a %s: %w", t.Format("2006-01-02"), t.Weekday(), ErrSyntax)
	}
	return t, nil
}

func parseClock(s string) (time.Time, error) {
	for _, layout := range []string{"15:04:05.999999999", "15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, ErrSyntax
}

// zone reads a time zone: UTC, Z, an offset, or a name from the zone
// database.
func zone(s string) (*time.Location, bool) {
	switch {
	case strings.EqualFold(s, "UTC") || s == "Z":
		return time.UTC, true
	case strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-"):
		for _, layout := range []string{"-07:00", "-0700", "-07"} {
			if t, err := time.Parse(layout, s); err == nil {
				_, off := t.Zone()
				return time.FixedZone(s, off), true
			}
		}
		return nil, false
	case strings.Contains(s, "/"):
		l, err := time.LoadLocation(s)
		return l, err == nil
	}
	return nil, false
}
