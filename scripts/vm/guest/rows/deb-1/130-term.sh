#!/bin/bash
# plan: kill -TERM main PID: exit 0, stays inactive
#
# A ready server drains its runners on SIGTERM and exits 0: a clean stop,
# not restarted.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"

n0=$(prop NRestarts) p0=$(mainpid)
kill -TERM "$p0"
stays_down "$p0" "$n0"
[ "$(prop ExecMainStatus)" = 0 ] || fail "main process exit status $(prop ExecMainStatus), want 0"
[ "$(prop Result)" = success ] || fail "Result=$(prop Result), want success"
figure "exit status $(prop ExecMainStatus), $(systemctl is-active stigmer) 13 s later, NRestarts $n0 -> $(prop NRestarts)"
restart_service
