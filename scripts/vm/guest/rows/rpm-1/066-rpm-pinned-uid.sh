#!/bin/bash
# plan: UID 950 pinned in /etc/sysusers.d: the service runs as it; erase, another system user, reinstall: same UID, owns its old files
#
# After the erase row (which keeps the user: deleted here by hand, as the
# README says). Leaves nothing installed and no user stigmer.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"

uid_case "dnf install -y ./$NEW_RPM" "dnf remove -y stigmer"
