package vulncheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
)

// ExcusedFile is the reviewed list of findings that cannot affect
// stigmer, at the repository's root.
const ExcusedFile = "govulncheck-excused.json"

// Excusal is one reviewed entry of ExcusedFile.
type Excusal struct {
	ID      string `json:"id"`      // GO-YYYY-NNNN
	Module  string `json:"module"`  // the module path as govulncheck names it ("stdlib" for the standard library)
	Reason  string `json:"reason"`  // why the finding cannot affect stigmer
	Expires string `json:"expires"` // YYYY-MM-DD: review again by then
}

// maxExcusal is how far ahead an excusal may expire: every one is
// reviewed again within a year.
const maxExcusal = 366 * 24 * time.Hour

var idRE = regexp.MustCompile(`^GO-\d{4}-\d{4,}$`)

// ReadExcusals reads and checks ExcusedFile (a missing file is an empty
// list). Every entry needs an ID, a module, a reason and an expiry within a
// year of now; an expired entry is an error, so that it is reviewed.
func ReadExcusals(path string, now time.Time) ([]Excusal, error) {
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var file struct {
		Excused []Excusal `json:"excused"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	for i, e := range file.Excused {
		if err := e.check(now); err != nil {
			return nil, fmt.Errorf("%s: entry %d (%s): %w", path, i+1, e.ID, err)
		}
	}
	return file.Excused, nil
}

func (e Excusal) check(now time.Time) error {
	switch {
	case !idRE.MatchString(e.ID):
		return fmt.Errorf("id %q is not GO-YYYY-NNNN", e.ID)
	case e.Module == "":
		return fmt.Errorf("module is empty: name the module the finding is in (stdlib for the standard library)")
	case len(strings.Fields(e.Reason)) < 5:
		return fmt.Errorf("reason %q says too little: say why the vulnerable code cannot affect stigmer", e.Reason)
	}
	exp, err := time.Parse(time.DateOnly, e.Expires)
	if err != nil {
		return fmt.Errorf("expires %q is not a date (YYYY-MM-DD)", e.Expires)
	}
	if !now.Before(exp) {
		return fmt.Errorf("expired on %s: fix the finding (update the module or Go) or review the reason and move the date", e.Expires)
	}
	if exp.Sub(now) > maxExcusal {
		return fmt.Errorf("expires %s, more than a year ahead: review excusals at least yearly", e.Expires)
	}
	return nil
}

// excuses reports whether e covers v.
func (e Excusal) excuses(v Vuln) bool { return e.ID == v.ID && e.Module == v.Module }
