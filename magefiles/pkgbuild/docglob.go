package pkgbuild

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/files"
)

// expandDocGlobs replaces each rpm %doc entry whose source is a glob (the
// man pages, one per command) with one entry per matching file under the
// destination directory. nfpm expands globs for plain files and conffiles
// but not for doc entries, and listing the pages in nfpm.yaml would repeat
// the command tree that the code already holds. A relative glob (the
// examples) is matched in root, the repository, whatever the working
// directory.
func expandDocGlobs(cfg *nfpm.Config, root string) error {
	var err error
	if cfg.Contents, err = expandDocs(cfg.Contents, root); err != nil {
		return err
	}
	for _, o := range cfg.Overrides {
		if o.Contents, err = expandDocs(o.Contents, root); err != nil {
			return err
		}
	}
	return nil
}

func expandDocs(in files.Contents, root string) (files.Contents, error) {
	var out files.Contents
	for _, c := range in {
		if c.Type != files.TypeRPMDoc || !strings.ContainsAny(c.Source, "*?[") {
			out = append(out, c)
			continue
		}
		pattern := c.Source
		if !filepath.IsAbs(pattern) {
			pattern = filepath.Join(root, pattern)
		}
		matches, err := filepath.Glob(pattern)
		if err != nil {
			return nil, fmt.Errorf("expanding %s in %s: %w", c.Source, Declaration, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("%s in %s matches no file; the docs step (stigmer internal-gen-docs) writes the generated ones: build with `go tool mage package`", c.Source, Declaration)
		}
		for _, m := range matches {
			cc := *c
			if c.FileInfo != nil {
				fi := *c.FileInfo
				cc.FileInfo = &fi
			}
			cc.Source = m
			cc.Destination = path.Join(c.Destination, filepath.Base(m))
			out = append(out, &cc)
		}
	}
	return out, nil
}
