package repo

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
)

// writeDnf runs createrepo_c over the tree, which indexes the pool's .rpm
// files into repodata/, and signs repomd.xml (repo_gpgcheck).
//
// gzip rather than createrepo_c's newer zstd default: dnf 4 on RHEL 8 reads
// both, older tools only gzip. No sqlite databases: dnf reads the XML, and
// sqlite files are not reproducible. The timestamps are the build's.
func writeDnf(ctx context.Context, root string, o Options) error {
	rev := strconv.FormatInt(o.Date.Unix(), 10)
	if _, err := run(ctx, root, "createrepo_c", "--quiet", "--no-database", "--checksum", "sha256",
		"--compress-type", "gz", "--revision", rev, "--set-timestamp-to-revision", "."); err != nil {
		return err
	}
	repomd := filepath.Join(root, "repodata", "repomd.xml")
	if err := o.Key.DetachSign(ctx, repomd, repomd+".asc"); err != nil {
		return fmt.Errorf("signing repomd.xml: %w", err)
	}
	return nil
}
