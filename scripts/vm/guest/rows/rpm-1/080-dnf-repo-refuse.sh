#!/bin/bash
# plan: dnf upgrade refused, nothing changed: tampered rpm (gpgcheck), unsigned repomd.xml, another key
# tags: toolchain
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"
# shellcheck source=../../lib/repo.sh
. "$LIB/repo.sh"

REFUSE_PID=$(mainpid) REFUSALS=""
serve tampered-rpm
attempt dnf-upgrade
refused "tampered rpm" 'GPG check FAILED'
serve new
rm "$SERVE/repodata/repomd.xml.asc"
attempt dnf-upgrade
refused "unsigned repomd.xml" 'GPG signature is not available'
serve other-key
attempt dnf-upgrade
refused "another key" 'repomd.xml GPG signature verification error'
rpm -q stigmer --qf '%{VERSION}\n' | grep -q . || fail "stigmer no longer installed"
figure "$REFUSALS"
