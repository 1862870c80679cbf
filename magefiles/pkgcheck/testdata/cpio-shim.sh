#!/bin/sh
# cpio-shim.sh stands in for cpio first on rpmlint's PATH (lint_test.go,
# rpmlintGuard): it records that it ran, in the file named by
# STIGMER_CPIO_SHIM_MARK, and unpacks with --no-absolute-filenames so that
# the rpm's absolute member names stay inside rpmlint's temp dir.
set -eu
echo used >>"$STIGMER_CPIO_SHIM_MARK"
exec /usr/bin/cpio --no-absolute-filenames "$@"
