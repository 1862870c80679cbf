#!/bin/bash
# plan: dnf upgrade while stopped: still stopped, still enabled
#
# As the rpm-upgrade row, from a stopped service (after a downgrade).
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"

upgrade_case stopped "$RPM_SETUP_OLD" "$RPM_UPGRADE_NEW"
