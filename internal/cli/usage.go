package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// ExitUsage is the exit code of a command line that cannot be run as
// written: an unknown command or flag, a bad flag value, arguments where
// none go (2, as shells and getopt-based tools use it).
const ExitUsage = 2

// usageError is a command line that cannot be run as written; Run prints
// it with cmd's usage on stderr and exits ExitUsage.
type usageError struct {
	cmd *cobra.Command
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// strictUsage makes every usage mistake in the tree under root a
// *usageError: flag errors through the flag error func, argument errors
// by wrapping each command's Args, and an unknown subcommand of a group
// (which cobra would answer with the group's help and exit 0) by giving
// each group an Args check of its own.
func strictUsage(root *cobra.Command) {
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &usageError{c, err} })
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.HasSubCommands() && !c.Runnable() {
			c.Args = noSubcommand
			c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
		}
		if c == root {
			c.Args = noSubcommand
		}
		if args := c.Args; args != nil {
			c.Args = func(c *cobra.Command, a []string) error {
				if err := args(c, a); err != nil {
					return &usageError{c, err}
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// strictHelp makes `help TOPIC` for a command that does not exist a usage
// error: cobra's help command prints "Unknown help topic" (or the parent's
// help) and exits 0, which a script or a typo would take for an answer.
// Arguments after a command that has no subcommands are left to cobra, as
// `help backup FILE` is still a request for backup's help.
func strictHelp(root *cobra.Command) {
	for _, help := range root.Commands() {
		if help.Name() != "help" || help.Run == nil {
			continue
		}
		show := help.Run
		help.Run = nil
		help.RunE = func(c *cobra.Command, args []string) error {
			target, rest, err := root.Find(args)
			if err == nil && target.HasSubCommands() {
				err = noSubcommand(target, rest)
			}
			if err != nil {
				return &usageError{c, err}
			}
			show(c, args)
			return nil
		}
	}
}

// noSubcommand refuses any argument of a command group: it can only be a
// mistyped subcommand.
func noSubcommand(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	var names []string
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2 // cobra's own default, set only on its own path
	}
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %q?", s[0])
	} else {
		msg += " (its commands: " + strings.Join(names, ", ") + ")"
	}
	return errors.New(msg)
}
