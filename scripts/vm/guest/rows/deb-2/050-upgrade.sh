#!/bin/bash
# plan: apt upgrade old (no fd store, unit in /lib)->new while running, env file edited and changed: edit kept, .dpkg-dist, data kept, unit at /usr/lib and loaded; probes
#
# From an older build that had no fd store (see upgrade_case), with probes
# across the upgrade.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"

upgrade_case running "$DEB_SETUP_OLD" "$DEB_UPGRADE_NEW"
