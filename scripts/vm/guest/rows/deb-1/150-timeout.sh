#!/bin/bash
# plan: start timeout (TimeoutStartSec=5s, agent runner stand-in held): restarted, up once let go
#
# A start that outlives TimeoutStartSec (the agent runner never registers)
# fails with result timeout and is restarted RestartSec later, again and
# again, until the runner may start; then the unit is up. The pieces: a
# group only the unit gets (as docker's would be), a gate directory only
# that group may enter, and a container CLI stand-in (the guest has no
# docker) that waits for the gate's file.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"

GATE=/run/vmtest-gate
STANDIN=/usr/local/bin/vmtest-container-cli-standin
DROPIN=/etc/systemd/system/stigmer.service.d/vmtest-timeout.conf

make_standin() {
	getent group vmtestgate >/dev/null || groupadd --system vmtestgate
	install -d -m 0750 -o root -g vmtestgate "$GATE"
	rm -f "$GATE/open"
	cat >"$STANDIN" <<-'STANDIN'
		#!/bin/sh
		# vmtest's stand-in for a container CLI (the guest has no docker).
		# `rm` (the server's stale-container removal) succeeds; `run` holds
		# the agent runner back until /run/vmtest-gate/open exists, which
		# only the group vmtestgate (the unit's SupplementaryGroups=) can
		# see, then runs the native agent runner with the server's env.
		case "$1" in
		rm) exit 0 ;;
		run) ;;
		*) echo "stand-in: unexpected arguments: $*" >&2; exit 2 ;;
		esac
		echo "stand-in: holding the agent runner until /run/vmtest-gate/open exists" >&2
		until [ -e /run/vmtest-gate/open ]; do sleep 0.5; done
		echo "stand-in: gate open, starting the agent runner" >&2
		exec /usr/bin/stigmer internal-agent-runner
	STANDIN
	chmod 0755 "$STANDIN"
	mkdir -p "${DROPIN%/*}"
	cat >"$DROPIN" <<-DROPIN
		[Service]
		TimeoutStartSec=5s
		SupplementaryGroups=vmtestgate
		Environment=STIGMER_AGENT_RUNNER_IMAGE=vmtest/agent-runner-standin:1
		Environment=STIGMER_CONTAINER_CLI=$STANDIN
	DROPIN
	systemctl daemon-reload
}

# starting: a start attempt with its main process, not yet ready.
starting() { [ "$(prop SubState)" = start ] && [ "$(mainpid)" != 0 ]; }
# restarted_since NRESTARTS START: systemd restarted the unit (NRestarts
# grew) and the new main process runs (its start time is not START).
restarted_since() {
	[ "$(prop NRestarts)" -gt "$1" ] && [ "$(prop ExecMainStartTimestampMonotonic)" != "$2" ] && [ "$(mainpid)" != 0 ]
}

make_standin
to0=$(journal_count "Failed with result 'timeout'")
t0=$(now)
systemctl restart --no-block stigmer
EVERY=0.5 wait_for 20 starting || fail "no start attempt within 20 s"
# Read once the manual restart began: it resets NRestarts to 0.
n0=$(prop NRestarts)
s1=$(prop ExecMainStartTimestampMonotonic)
# 5 s of start, RestartSec=10, then the next attempt's main PID.
if ! EVERY=1 wait_for 40 restarted_since "$n0" "$s1"; then
	fail "not restarted within 40 s of the first start (state $(prop ActiveState)/$(prop SubState), Result=$(prop Result), NRestarts $n0 -> $(prop NRestarts))"
fi
s2=$(prop ExecMainStartTimestampMonotonic)
to=$(journal_count "Failed with result 'timeout'")
[ "$to" -gt "$to0" ] || fail "no \"Failed with result 'timeout'\" from systemd in the journal"
gap=$(awk -v a="$s1" -v b="$s2" 'BEGIN {printf "%.1f", (b - a) / 1e6}')
ge "$gap" 15 || fail "the next start came ${gap} s after the first, before TimeoutStartSec 5 + RestartSec 10"
# Let the stand-in go: the attempt under way (or the next one) succeeds.
touch "$GATE/open"
EVERY=0.5 wait_for 60 ready || fail "/readyz not 200 within 60 s of opening the gate (state $(prop ActiveState)/$(prop SubState), NRestarts $(prop NRestarts))"
active || fail "not active once the gate opened: $(systemctl is-active stigmer)"
# The stand-in's stderr is the agent runner's output.
[ "$(journal_count 'stand-in: gate open')" -gt 0 ] || fail "the stand-in never saw the gate: SupplementaryGroups= not in effect?"
figure "timeouts $to0 -> $to; second start ${gap} s after the first; NRestarts $n0 -> $(prop NRestarts); /readyz 200 $(since "$t0") s after the restart"
# Leave the unit as the later rows expect it.
rm -f "$DROPIN" "$GATE/open"
systemctl daemon-reload
systemctl restart stigmer || fail "systemctl restart without the drop-in failed"
wait_for 30 ready || fail "/readyz not 200 within 30 s without the drop-in"
