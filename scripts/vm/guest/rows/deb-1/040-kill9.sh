#!/bin/bash
# plan: kill -9 main PID: new PID after RestartSec, NRestarts +1, /readyz 200 again
# tags: toolchain
#
# Leaves $STATE/kill9.window for the startline row: the uptimes of the kill
# and of the unit active again, between which systemd logged this restart.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"

kill_main KILL 60
echo "$KILL_T0 $KILL_T1" >"$STATE/kill9.window"
