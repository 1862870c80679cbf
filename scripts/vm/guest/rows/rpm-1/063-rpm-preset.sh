#!/bin/bash
# plan: dnf install with disable * in /etc/systemd/system-preset: disabled and stopped; enable --now starts it; without: enabled, running (50-stigmer.preset)
#
# After the erase row, from nothing installed; leaves nothing installed.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"

preset_case "dnf install -y ./$NEW_RPM" "dnf remove -y stigmer" disabled
