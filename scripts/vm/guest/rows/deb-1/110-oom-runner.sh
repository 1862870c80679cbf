#!/bin/bash
# plan: kernel OOM kill of a runner: unit stays, runner back
#
# OOMPolicy=stop (the default from 243) would stop the whole unit; the unit
# says continue, and the server restarts the runner.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"

p0=$(mainpid) n0=$(prop NRestarts)
if ! runner_read workflow-runner || [ -z "$RUNNER_PID" ]; then
	fail "no workflow-runner PID in server status"
	exit 0
fi
rp=$RUNNER_PID t0=$(now)
oom_kill "$rp"
wait_for 30 runner_back workflow-runner "$rp" || fail "workflow-runner not back within 30 s"
figure "workflow-runner $rp OOM-killed, back as $RUNNER_PID after $(since "$t0") s; main PID $p0 -> $(mainpid)"
journalctl -k -q --no-pager | grep -q "Killed process $rp " || fail "the kernel log shows no OOM kill of $rp"
[ "$(mainpid)" = "$p0" ] || fail "main PID changed $p0 -> $(mainpid): the unit was stopped"
[ "$(prop NRestarts)" = "$n0" ] || fail "NRestarts $n0 -> $(prop NRestarts)"
active || fail "unit not active"
wait_for 30 ready || fail "/readyz not 200 within 30 s"
