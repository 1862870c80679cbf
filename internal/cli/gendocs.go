package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newGenDocsCmd writes the man pages and shell completions that the packages
// ship. It is hidden: packaging runs it, operators never need it.
func newGenDocsCmd() *cobra.Command {
	var manDir, completionDir string
	cmd := &cobra.Command{
		Use:    "internal-gen-docs",
		Short:  "Write the man pages (stigmer(1), one per command, stigmer.service(8)) and the bash, zsh and fish completions",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			root := cmd.Root()
			if manDir != "" {
				if err := writeManPages(root, manDir); err != nil {
					return err
				}
			}
			if completionDir != "" {
				return writeCompletions(root, completionDir)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&manDir, "man-dir", "", "directory for stigmer.1, stigmer-server.1, ... (one page per visible command)")
	cmd.Flags().StringVar(&completionDir, "completion-dir", "", "directory for stigmer.bash, _stigmer (zsh) and stigmer.fish")
	return cmd
}

// writeManPages renders stigmer(1) and one page per visible command
// (stigmer-server(1), stigmer-server-status(1), ...), the pages that each
// page's SEE ALSO names, and the service's page, stigmer.service(8); hidden
// internal-* commands get none. stigmer(1) gets the sections cobra does
// not write (EXIT STATUS, ENVIRONMENT) and stigmer.service(8) in its SEE
// ALSO. The date comes from SOURCE_DATE_EPOCH when set so that packages
// are reproducible.
func writeManPages(root *cobra.Command, dir string) error {
	date, err := sourceDate()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating man dir: %w", err)
	}
	root.DisableAutoGenTag = true
	// No Title: each page gets its command's (STIGMER-SERVER for stigmer-server.1).
	header := &doc.GenManHeader{Section: "1", Source: "Stigmer", Manual: "Stigmer Manual", Date: &date}
	if err := doc.GenManTree(root, header, dir); err != nil {
		return fmt.Errorf("rendering man pages into %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, ServicePage), servicePage(date), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", ServicePage, err)
	}
	return extendRootPage(filepath.Join(dir, "stigmer.1"))
}

// extendRootPage adds rootPageSections before the SEE ALSO of cobra's
// stigmer(1), and stigmer.service(8) to the pages it lists.
func extendRootPage(path string) error {
	page, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	head, seeAlso, ok := strings.Cut(string(page), ".SH SEE ALSO\n")
	if !ok {
		return fmt.Errorf("%s has no SEE ALSO section to extend (has cobra's page layout changed?)", path)
	}
	list, rest, _ := strings.Cut(seeAlso, "\n")
	out := head + string(rootPageSections()) + ".SH SEE ALSO\n" + list + ", \\fBstigmer.service(8)\\fP\n" + rest
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
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
