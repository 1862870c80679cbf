#!/bin/bash
# plan: SIGSEGV to main PID: restarted; probes every 50 ms: none refused
#
# The Go runtime's crash trace goes to stderr, which the unit tags
# stigmer-server (SyslogIdentifier=), like the server's own entries.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/probe.sh
. "$LIB/probe.sh"

prober "$SCRATCH/probes" kill_main SEGV 60
figure "$FIG; probes: $PROBE"
[ "$PROBE_REFUSED" = 0 ] || fail "probes refused: $PROBE"
[ "$(journal_count SIGSEGV -t stigmer-server)" -gt 0 ] || fail "no SIGSEGV line under stigmer-server in the journal"
