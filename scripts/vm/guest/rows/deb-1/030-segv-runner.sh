#!/bin/bash
# plan: SIGSEGV to the workflow runner: its trace under -t stigmer-workflow-runner, not -t stigmer-server
#
# The runner's crash trace goes to its own journal stream, tagged like the
# runner's log entries, not to the server's stderr.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"

# traced: the runner's stream has a SIGSEGV trace.
traced() { [ "$(journal_count '^SIGSEGV' -t stigmer-workflow-runner)" -gt 0 ]; }

n0=$(journal_count SIGSEGV -t stigmer-server)
if ! runner_read workflow-runner || [ -z "$RUNNER_PID" ] || [ "$RUNNER_PID" = 0 ]; then
	fail "workflow-runner has no PID in server status"
	exit 0
fi
rp=$RUNNER_PID
kill -SEGV "$rp"
wait_for 60 runner_back workflow-runner "$rp" || fail "workflow-runner not back within 60 s of SIGSEGV"
wait_for 10 traced ||
	fail "no SIGSEGV trace under journalctl -u stigmer -t stigmer-workflow-runner"
n1=$(journal_count SIGSEGV -t stigmer-server)
[ "$n1" = "$n0" ] || fail "the runner's SIGSEGV trace is (also) under -t stigmer-server"
figure "trace lines under stigmer-workflow-runner: $(journal_count 'SIGSEGV|^goroutine ' -t stigmer-workflow-runner); SIGSEGV under stigmer-server: $n0 -> $n1"
