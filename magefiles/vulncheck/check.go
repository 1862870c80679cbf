package vulncheck

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// Check scans every target against db, prints what it found to log, and
// fails when a reachable vulnerability is not excused. toolDir is the
// module whose go.mod pins govulncheck.
func Check(ctx context.Context, log io.Writer, toolDir string, db Database, excused []Excusal, targets ...Target) error {
	fmt.Fprintf(log, "govulncheck: vulnerability database: %s\n", db.Desc)
	var failed []string
	used := map[int]bool{}
	for _, t := range targets {
		r, err := Run(ctx, toolDir, db, t)
		if err != nil {
			return err
		}
		called := r.Called()
		fmt.Fprintf(log, "%s: %d known vulnerabilities in code it reaches, %d more in packages or modules it does not call\n",
			t.Name, len(called), len(r.Vulns)-len(called))
		for _, v := range r.Vulns {
			if !v.Called {
				fmt.Fprintf(log, "  not called: %s in %s@%s (%s)\n", v.ID, v.Module, v.Found, fixedIn(v))
			}
		}
		for _, v := range called {
			i := excusal(excused, v)
			if i >= 0 {
				used[i] = true
				fmt.Fprintf(log, "  excused %s (%s): %s (%s, until %s)\n", v.ID, v.Module, excused[i].Reason, ExcusedFile, excused[i].Expires)
				continue
			}
			fmt.Fprint(log, describe(v))
			failed = append(failed, v.ID+" in "+t.Name)
		}
	}
	for i, e := range excused {
		if !used[i] {
			fmt.Fprintf(log, "note: %s excuses %s (%s), which no scan found any more: remove it\n", ExcusedFile, e.ID, e.Module)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("known vulnerabilities reachable: %s; update the module (or Go) to the fixed version above, or, if the code cannot affect stigmer, excuse it with a reason and an expiry in %s", strings.Join(failed, ", "), ExcusedFile)
	}
	return nil
}

func excusal(excused []Excusal, v Vuln) int {
	for i, e := range excused {
		if e.excuses(v) {
			return i
		}
	}
	return -1
}

// describe is a finding as the output shows it: the entry, where it is,
// the fix, and how the code reaches it.
func describe(v Vuln) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  %s: %s\n    found in %s@%s, %s\n", v.ID, v.Summary, v.Module, v.Found, fixedIn(v))
	if n := len(v.Trace); n > 0 {
		fmt.Fprintf(&b, "    reached: %s", v.Trace[n-1])
		if n > 1 {
			fmt.Fprintf(&b, " -> ... -> %s", v.Trace[0])
		}
		b.WriteString("\n")
	}
	return b.String()
}

func fixedIn(v Vuln) string {
	if v.Fixed == "" {
		return "no fixed version yet"
	}
	return "fixed in " + v.Module + "@" + v.Fixed
}
