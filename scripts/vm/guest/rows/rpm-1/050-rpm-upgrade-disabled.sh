#!/bin/bash
# plan: dnf upgrade while disabled: still disabled, running new
#
# As the rpm-upgrade row, from a disabled (but running) service (after a
# downgrade).
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"

upgrade_case disabled "$RPM_SETUP_OLD" "$RPM_UPGRADE_NEW"
