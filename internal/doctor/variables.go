package doctor

import (
	"context"
	"fmt"
	"strings"

	"github.com/stigmer/stigmer/internal/config"
)

// checkVariables: every STIGMER_* variable the service gets, from its env
// files and the unit's Environment=, is one the server reads. A misspelt
// name leaves the setting it meant at its default without a word (the
// server only warns in the journal), so it fails here, with the closest
// known name.
func checkVariables(ctx context.Context, e *Env) Result {
	s := e.service(ctx)
	if f := s.unreadable(); f != nil {
		return skip("%s cannot be read (see the config check)", f.path)
	}
	type finding struct{ where, what, fix string }
	var found []finding
	set := 0
	for _, f := range s.files {
		for _, v := range f.vars {
			if !strings.HasPrefix(v.Name, config.Prefix) {
				continue
			}
			set++
			for _, u := range config.Unknown([]string{v.Name}) {
				fix := fmt.Sprintf("sudoedit %s: delete line %d", f.path, v.Line)
				if u.Likely() && !u.ForRunners {
					fix = fmt.Sprintf("sudoedit %s: rename %s to %s on line %d", f.path, u.Name, u.Closest, v.Line)
				}
				found = append(found, finding{fmt.Sprintf("%s:%d", f.path, v.Line), u.String(), fix + ", then sudo systemctl restart stigmer"})
			}
		}
	}
	if st, err := e.unitState(ctx); err == nil && s.fromUnit {
		for _, u := range config.Unknown(st.Environment) {
			found = append(found, finding{"the unit's Environment=", u.String(),
				"sudo systemctl edit stigmer: fix Environment=" + u.Name + " (systemctl cat stigmer shows which file sets it), then sudo systemctl restart stigmer"})
		}
	}
	if len(found) == 0 {
		return pass("every %s* variable of the env files (%d set) and the unit is one the server reads", config.Prefix, set)
	}
	r := fail(found[0].fix, "%s: %s", found[0].where, found[0].what)
	for _, f := range found[1:] {
		r.Detail = append(r.Detail, f.where+": "+f.what)
	}
	return r
}
