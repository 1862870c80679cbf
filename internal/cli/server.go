package cli

import (
	"github.com/spf13/cobra"

	"github.com/stigmer/stigmer/internal/buildinfo"
)

func addServerCommands(root *cobra.Command, info buildinfo.Info) {}
