#!/bin/bash
# plan: dnf upgrade ./new.rpm while running: new version, env edit and data kept, new default as .rpmnew
# tags: toolchain
#
# From the older build the rpm-install row installed, with probes across
# the upgrade.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"

upgrade_case running true "$RPM_UPGRADE_NEW"
