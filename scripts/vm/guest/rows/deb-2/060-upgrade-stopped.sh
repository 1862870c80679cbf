#!/bin/bash
# plan: apt upgrade while stopped (unit from /lib to /usr/lib): still stopped, still enabled, new unit loaded
#
# As the upgrade row, from a stopped service.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"

upgrade_case stopped "$DEB_SETUP_OLD" "$DEB_UPGRADE_NEW"
