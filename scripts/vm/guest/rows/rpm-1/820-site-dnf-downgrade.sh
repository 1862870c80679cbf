#!/bin/bash
# plan: the release rehearsal's site: dnf downgrade stigmer goes back to the first release; one restart, enabled, env edit and data kept
#
# The README's way back. Leaves the first release running.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/rehearsal.sh
. "$LIB/rehearsal.sh"

rehearsal_change "$FIRST" dnf downgrade -y stigmer
figure "$CHANGE"
