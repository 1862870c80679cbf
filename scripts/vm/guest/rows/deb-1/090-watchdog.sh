#!/bin/bash
# plan: SIGSTOP main PID: watchdog kills, systemd restarts; probes every 0.2 s: none refused
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/probe.sh
. "$LIB/probe.sh"

wd=$(prop WatchdogUSec)
if [ "$wd" = 0 ] || [ -z "$wd" ]; then
	fail "the unit has no WatchdogSec"
	exit 0
fi
t0=$(journal_count 'Watchdog timeout')
# Probes every 0.2 s, not 0.05: a probe waits up to 30 s, and over the
# ~45 s of a watchdog kill 900 waiting shells would crowd the guest's
# 1 GiB. Those waiting more than their 30 s give up: counted as failed.
PROBE_EVERY=0.2 prober "$SCRATCH/probes" kill_main STOP 150
[ "$PROBE_REFUSED" = 0 ] || fail "probes refused: $PROBE"
[ "$(journal_count 'Watchdog timeout')" -gt "$t0" ] || fail "no 'Watchdog timeout' line from systemd in the journal"
figure "WatchdogSec=$wd: $FIG; probes: $PROBE"
