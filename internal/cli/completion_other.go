//go:build !linux

package cli

import "github.com/spf13/cobra"

// hideCompletions hides nothing outside Linux: a developer's Mac may run
// PowerShell.
func hideCompletions(*cobra.Command) {}
