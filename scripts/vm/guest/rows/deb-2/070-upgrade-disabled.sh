#!/bin/bash
# plan: apt upgrade while disabled (unit from /lib to /usr/lib): still disabled, running new, new unit loaded
#
# As the upgrade row, from a disabled (but running) service.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"

upgrade_case disabled "$DEB_SETUP_OLD" "$DEB_UPGRADE_NEW"
