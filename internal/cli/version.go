package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stigmer/stigmer/internal/buildinfo"
)

func newVersionCmd(info buildinfo.Info) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, build date, Go version and platform",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, info)
			}
			_, err := fmt.Fprintf(out, "stigmer %s\n  commit:     %s\n  built:      %s\n  go:         %s\n  platform:   %s/%s\n",
				info.Version, info.Commit, info.Date, info.GoVersion, info.OS, info.Arch)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}
