package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/stigmer/stigmer/internal/api"
	"github.com/stigmer/stigmer/internal/unitstate"
)

// unitSummary is what `server status` shows of stigmer.service.
type unitSummary struct {
	Name          string `json:"name"`
	ActiveState   string `json:"active_state"`
	SubState      string `json:"sub_state"`
	UnitFileState string `json:"unit_file_state"`
	NRestarts     uint32 `json:"n_restarts"`
	MainPID       uint32 `json:"main_pid"`
	Result        string `json:"result"`
	LastExit      string `json:"last_exit,omitempty"`
}

// statusOutput is `server status --json`: the API's status, plus the unit
// under systemd.
type statusOutput struct {
	api.Status
	Unit *unitSummary `json:"unit,omitempty"`
}

// statusFailure is `server status --json` when the server cannot be
// reached: the error, the address asked, and the unit when there is one.
type statusFailure struct {
	jsonFailure
	Address string       `json:"address"`
	Unit    *unitSummary `json:"unit,omitempty"`
}

// readUnit reads stigmer.service when it is installed. Without systemd,
// or with no such unit (a development machine), it is nil and no error:
// there is nothing to show.
func readUnit(ctx context.Context) (*unitSummary, error) {
	st, err := unitstate.Read(ctx, unitstate.Unit)
	switch {
	case errors.Is(err, unitstate.ErrNoSystemd):
		return nil, nil
	case err != nil:
		return nil, err
	case st.LoadState != "loaded":
		return nil, nil
	}
	return &unitSummary{
		Name: st.Name, ActiveState: st.ActiveState, SubState: st.SubState, UnitFileState: st.UnitFileState,
		NRestarts: st.NRestarts, MainPID: st.MainPID, Result: st.Result, LastExit: st.LastExit(),
	}, nil
}

// printUnit prints the unit line, or why it could not be read; nothing
// when there is no unit.
func printUnit(w io.Writer, u *unitSummary, err error) {
	switch {
	case err != nil:
		fmt.Fprintf(w, "\nunit: cannot read stigmer.service's state: %v\n", err)
	case u != nil:
		line := fmt.Sprintf("\nunit: %s %s (%s), %s, NRestarts %d, last result %s", u.Name, u.ActiveState, u.SubState, u.UnitFileState, u.NRestarts, u.Result)
		if u.LastExit != "" && u.ActiveState != "active" {
			line += " (" + u.LastExit + ")"
		}
		fmt.Fprintln(w, line)
	}
}
