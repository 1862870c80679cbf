package cli

import (
	"encoding/json"
	"errors"
	"io"

	"github.com/stigmer/stigmer/internal/printable"
)

// printJSON writes v as indented JSON, what every --json prints, with what
// a terminal would act on escaped (see printable.JSON).
func printJSON(w io.Writer, v any) error {
	doc, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(printable.JSON(doc), '\n'))
	return err
}

// jsonFailure is what a command run with --json prints on stdout when it
// fails, so that a script reads JSON either way; Run still says the error
// on stderr, and the exit code is the same as without --json.
type jsonFailure struct {
	Error    string `json:"error"`
	ExitCode int    `json:"exit_code"`
}

func newJSONFailure(err error) jsonFailure {
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	return jsonFailure{Error: err.Error(), ExitCode: code}
}

// failJSON prints err as a jsonFailure when asJSON, and returns err.
func failJSON(w io.Writer, asJSON bool, err error) error {
	if asJSON && err != nil {
		if perr := printJSON(w, newJSONFailure(err)); perr != nil {
			return errors.Join(err, perr)
		}
	}
	return err
}
