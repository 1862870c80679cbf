#!/bin/bash
# plan: the release rehearsal's site: apt-get install stigmer=<first> goes back to the first release; one restart, enabled, env edit and data kept
# guests: deb13
#
# The README's way back (-y needs --allow-downgrades, as apt asks).
# Leaves the first release running.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/rehearsal.sh
. "$LIB/rehearsal.sh"

rehearsal_change "$FIRST" apt-get install -y --allow-downgrades "stigmer=$FIRST"
quiet_apt
figure "$CHANGE"
