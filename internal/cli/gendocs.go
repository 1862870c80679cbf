package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newGenDocsCmd writes the man page and shell completions that the packages
// ship. It is hidden: packaging runs it, operators never need it.
func newGenDocsCmd() *cobra.Command {
	var manDir, completionDir string
	cmd := &cobra.Command{
		Use:    "internal-gen-docs",
		Short:  "Write the stigmer(1) man page and the bash, zsh and fish completions",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			root := cmd.Root()
			if manDir != "" {
				if err := writeManPage(root, manDir); err != nil {
					return err
				}
			}
			if completionDir != "" {
				return writeCompletions(root, completionDir)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&manDir, "man-dir", "", "directory for stigmer.1")
	cmd.Flags().StringVar(&completionDir, "completion-dir", "", "directory for stigmer.bash, _stigmer (zsh) and stigmer.fish")
	return cmd
}

// writeManPage renders one page, stigmer(1), covering every visible command.
// The date comes from SOURCE_DATE_EPOCH when set so that packages are
// reproducible.
func writeManPage(root *cobra.Command, dir string) error {
	date, err := sourceDate()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating man dir: %w", err)
	}
	root.DisableAutoGenTag = true
	header := &doc.GenManHeader{Title: "STIGMER", Section: "1", Source: "Stigmer", Manual: "Stigmer Manual", Date: &date}
	f, err := os.Create(filepath.Join(dir, "stigmer.1"))
	if err != nil {
		return fmt.Errorf("creating man page: %w", err)
	}
	if err := doc.GenMan(root, header, f); err != nil {
		f.Close()
		return fmt.Errorf("rendering man page: %w", err)
	}
	return f.Close()
}

func sourceDate() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Now().UTC(), nil
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a whole number of seconds; unset it or set it to the commit time (git log -1 --format=%%ct)", s)
	}
	return time.Unix(sec, 0).UTC(), nil
}

func writeCompletions(root *cobra.Command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating completion dir: %w", err)
	}
	gens := []struct {
		name string
		gen  func(string) error
	}{
		{"stigmer.bash", func(p string) error { return root.GenBashCompletionFileV2(p, true) }},
		{"_stigmer", root.GenZshCompletionFile},
		{"stigmer.fish", func(p string) error { return root.GenFishCompletionFile(p, true) }},
	}
	for _, g := range gens {
		if err := g.gen(filepath.Join(dir, g.name)); err != nil {
			return fmt.Errorf("writing %s completion: %w", g.name, err)
		}
	}
	return nil
}
