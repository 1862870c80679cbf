#!/bin/bash
# plan: runner kill -9, 3x each: same main PID, runner back, restarts shown
#
# The server restarts its runners by itself: the unit's main process stays,
# and systemd's restart count does not move.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"

p0=$(mainpid) n0=$(prop NRestarts) fig=""
for r in workflow-runner agent-runner; do
	times=""
	for i in 1 2 3; do
		if ! runner_read "$r" || [ -z "$RUNNER_PID" ] || [ "$RUNNER_PID" = 0 ]; then
			fail "$r has no PID in server status"
			break
		fi
		rp=$RUNNER_PID rc0=$RUNNER_RESTARTS
		t0=$(now)
		kill -9 "$rp"
		if ! wait_for 60 runner_back "$r" "$rp"; then
			fail "$r not back within 60 s of kill $i, kill -9 $rp (status: pid '$RUNNER_PID', state '$RUNNER_STATE')"
			break
		fi
		times="$times$(since "$t0")/"
		[ "$RUNNER_RESTARTS" = $((rc0 + 1)) ] || fail "$r restarts $rc0 -> $RUNNER_RESTARTS, want +1"
		if [ -e "/proc/$rp" ]; then
			fail "killed $r $rp still in /proc ($(awk '/^State/ {print $2}' "/proc/$rp/status" 2>/dev/null))"
		fi
	done
	fig="$fig$r back in ${times%/} s (restarts $RUNNER_RESTARTS); "
done
[ "$(mainpid)" = "$p0" ] || fail "main PID changed $p0 -> $(mainpid)"
[ "$(prop NRestarts)" = "$n0" ] || fail "NRestarts $n0 -> $(prop NRestarts)"
active || fail "unit not active"
wait_for 30 ready || fail "/readyz not 200 within 30 s of the last kill"
table=$(/usr/bin/stigmer server status 2>&1) || fail "stigmer server status exited $?: $table"
for r in workflow-runner agent-runner; do
	runner_read "$r" || fail "GET /api/v1/status lists no $r"
	grep "$r" <<<"$table" | grep -qw "$RUNNER_RESTARTS" ||
		fail "stigmer server status shows no restart count $RUNNER_RESTARTS for $r: $(grep "$r" <<<"$table")"
done
figure "${fig}main PID $p0 kept"
