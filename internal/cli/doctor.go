package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stigmer/stigmer/internal/buildinfo"
	"github.com/stigmer/stigmer/internal/doctor"
)

func newDoctorCmd(info buildinfo.Info) *cobra.Command {
	var asJSON bool
	var envFiles []string
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the installed service and say what is wrong and how to fix it",
		Long: `Check the stigmer service the way its troubleshooting goes: the binary and
the unit (installed, enabled, active, restarts, the last crash), systemd's
version, the env file (mode 0600, root's) and the configuration in it (the
server's own checks, and no STIGMER_* name the server does not read), the stigmer user and group, the data and log
directories, disk space, user namespaces, docker when an agent runner image
is set, the listen port, the API (ready, same version as this command) and
its exposure. Each check prints one verdict and, unless it passed, one fix.

It changes nothing and works while the server is down. Run as root to check
everything: as another user, what it may not read (the env file, other
users' processes) is a skip that says so. Exit status: 0 when no check
failed (warnings and skips do not fail), 1 when one did.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env := doctor.System(info.Version)
			env.EnvFiles = envFiles
			env.OpenHistory = openCrashHistory(cmd.Context())
			results := doctor.Run(cmd.Context(), env)
			out := cmd.OutOrStdout()
			var err error
			if asJSON {
				err = writeDoctorJSON(out, info.Version, env.UID, results)
			} else {
				err = writeDoctorText(out, env.UID, results)
			}
			if err != nil {
				return err
			}
			if doctor.Failed(results) {
				return exitSilently(1)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the results as JSON: {version, uid, checks: [{name, status, verdict, fix, detail}], summary}")
	cmd.Flags().StringArrayVar(&envFiles, "env-file", nil, "check this env file instead of the unit's (e.g. an edit before the restart); repeatable")
	return cmd
}

// doctorReport is doctor's JSON output.
type doctorReport struct {
	Version string          `json:"version"`
	UID     int             `json:"uid"`
	Checks  []doctor.Result `json:"checks"`
	Summary map[string]int  `json:"summary"`
}

func summary(results []doctor.Result) map[string]int {
	counts := map[string]int{"pass": 0, "warn": 0, "fail": 0, "skip": 0}
	for _, r := range results {
		counts[string(r.Status)]++
	}
	return counts
}

func writeDoctorJSON(w io.Writer, version string, uid int, results []doctor.Result) error {
	return printJSON(w, doctorReport{Version: version, UID: uid, Checks: results, Summary: summary(results)})
}

// writeDoctorText prints one line per check, its fix and detail indented
// below it, then a summary line.
func writeDoctorText(w io.Writer, uid int, results []doctor.Result) error {
	width := 0
	for _, r := range results {
		width = max(width, len(r.Name))
	}
	var b strings.Builder
	for _, r := range results {
		fmt.Fprintf(&b, "%-4s  %-*s  %s\n", strings.ToUpper(string(r.Status)), width, r.Name, r.Verdict)
		if r.Fix != "" {
			fmt.Fprintf(&b, "      fix: %s\n", r.Fix)
		}
		for _, d := range r.Detail {
			fmt.Fprintf(&b, "      %s\n", d)
		}
	}
	c := summary(results)
	fmt.Fprintf(&b, "\n%d checks: %d pass, %d warn, %d fail, %d skip", len(results), c["pass"], c["warn"], c["fail"], c["skip"])
	if c["skip"] > 0 && uid != 0 {
		fmt.Fprintf(&b, " (run as uid %d; sudo stigmer doctor checks more)", uid)
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}
