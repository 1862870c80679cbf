package cli

import "github.com/spf13/cobra"

// hideCompletions hides `stigmer completion powershell` on Linux, where
// the packages ship bash, zsh and fish completions: it stays usable, but
// gets no man page and no place in the help.
func hideCompletions(root *cobra.Command) {
	if c, _, err := root.Find([]string{"completion", "powershell"}); err == nil && c.Name() == "powershell" {
		c.Hidden = true
	}
}
