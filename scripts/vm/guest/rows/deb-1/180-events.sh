#!/bin/bash
# plan: history of the rows above: history.db 0600 stigmer, stigmer events (API, file when stopped; both refused to nobody), server restarts in status and /metrics
#
# Reads the history the rows before it left in /var/lib/stigmer/history.db:
# the ends they caused, as systemd reported them to ExecStopPost.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"

# has FILTER REASON [JQ ARGS...]: the events hold what the jq filter asks,
# else fail with REASON.
has() { jq -e "${@:3}" "$1" <<<"$ev" >/dev/null 2>&1 || fail "$2"; }

got=$(stat -c '%a %U' /var/lib/stigmer/history.db 2>&1) || :
[ "$got" = "600 stigmer" ] || fail "/var/lib/stigmer/history.db is '$got', want 600 stigmer"
ev=$(/usr/bin/stigmer events --json --since 2h 2>/dev/null) || fail "stigmer events --json exited $?"
n=$(jq '.events | length' <<<"$ev" 2>/dev/null) || n=0
[ "${n:-0}" -gt 0 ] || fail "stigmer events --json lists nothing: $(/usr/bin/stigmer events 2>&1 | tail -n 3 | tr '\n' ' ')"
# SIGSEGV and the watchdog's SIGABRT: the Go runtime prints its trace (kept
# in crash.log and quoted) and exits 2.
for want in 'killed by SIGKILL' 'crashed (Go runtime: SIGSEGV' 'watchdog timeout (the server stopped answering for WatchdogSec), then crashed (Go runtime: SIGABRT' 'killed by SIGHUP' 'clean stop' 'timed out starting'; do
	# shellcheck disable=SC2016 # $w is jq's
	has '[.events[] | select(.kind == "server-exit" and (.reason | contains($w)))] | length > 0' \
		"no server-exit '$want' in stigmer events" --arg w "$want"
done
has '[.events[] | select(.kind == "runner-exit" and .exit == "signal 9 (killed)")] | length >= 6' \
	"fewer than 6 runner-exit 'signal 9 (killed)' (the runners row kills 3 of each)"
has '[.events[] | select(.kind == "server-exit" and .unclean and (.logs | length) > 0)] | length > 0' \
	"no unclean server-exit carries log lines"
has '[.events[] | select(.kind == "server-exit" and (.reason | contains("SIGSEGV")) and (.logs | index("--- crash trace (/var/log/stigmer/crash.log):")))] | length > 0' \
	"the SIGSEGV's server-exit does not quote the crash trace"
# systemd says only "signal" for the oom row's kill (OOMPolicy=continue):
# the unit's cgroup OOM kill count tells the OOM killer's SIGKILL apart.
oom=$(jq -r '[.events[] | select(.kind == "server-exit" and (.reason | contains("OOM killer")))] | length' <<<"$ev" 2>/dev/null) || oom=0
oomr=$(jq -r '[.events[] | select(.kind == "runner-exit" and (.reason // "" | contains("OOM killer")))] | length' <<<"$ev" 2>/dev/null) || oomr=0
[ "${oom:-0}" -ge 1 ] || fail "the oom row's kill of the server is not named an OOM kill"
[ "${oomr:-0}" -ge 1 ] || fail "the oom-runner row's kill of a runner is not named an OOM kill"
kinds=$(jq -r '[.events[].kind] | group_by(.) | map("\(.[0]) \(length)") | join(", ")' <<<"$ev" 2>/dev/null) || :
status=$(/usr/bin/stigmer server status --json) || fail "stigmer server status --json exited $?"
restarts=$(jq -r '.components[] | select(.name == "server") | .restarts' <<<"$status" 2>/dev/null) || :
last=$(jq -r '.components[] | select(.name == "server") | .last_exit' <<<"$status" 2>/dev/null) || :
[ "${restarts:-0}" -ge 5 ] || fail "server status says the server restarted ${restarts:-?} times; the rows above restarted it at least 5"

# The same history in Prometheus' exposition, beside the runners' state.
if ! http /metrics || [ "$HTTP_CODE" != 200 ]; then fail "GET /metrics answered $HTTP_CODE"; fi
m=$HTTP_BODY
mrestarts=$(awk '$1 == "stigmer_history_events_total{kind=\"server-restart\"}" {print $2}' <<<"$m")
[ "$mrestarts" = "$restarts" ] || fail "/metrics has server-restart $mrestarts, status says $restarts"
for want in "stigmer_build_info{" "version=\"$NEW_VERSION\"" 'stigmer_runner_up{runner="workflow-runner"} 1' 'stigmer_runner_restarts_total{reason="signal",runner="agent-runner"}' 'process_resident_memory_bytes'; do
	grep -qF -- "$want" <<<"$m" || fail "/metrics has no $want"
done

# Through the API too, the history is root's and stigmer's only: the server
# tells the asking user from the kernel's socket table.
if runuser -u nobody -- /usr/bin/stigmer events --since 10m >"$SCRATCH/nobody.log" 2>&1; then
	fail "stigmer events as nobody read the history through the API"
fi
# shellcheck disable=SC2016 # the backquotes are the message's
grep -q 'uid 65534 may not read the history: .*run `sudo stigmer events`' "$SCRATCH/nobody.log" ||
	fail "as nobody, the API's refusal does not say who and what to run: $(tail -n 1 "$SCRATCH/nobody.log")"
attach "$SCRATCH/nobody.log"

# Stopped: the file itself, to root only.
systemctl stop stigmer
/usr/bin/stigmer events --since 10m >"$SCRATCH/file.log" 2>&1 ||
	fail "stigmer events with the server stopped failed: $(tail -n 2 "$SCRATCH/file.log")"
grep -q 'read /var/lib/stigmer/history.db' "$SCRATCH/file.log" || fail "stopped: events did not say it read the file"
grep -q 'clean stop' "$SCRATCH/file.log" || fail "stopped: the stop just made is not listed"
if runuser -u nobody -- /usr/bin/stigmer events >"$SCRATCH/nobody-file.log" 2>&1; then
	fail "stigmer events as nobody read the stopped server's history"
fi
grep -q 'run this as root' "$SCRATCH/nobody-file.log" || fail "as nobody, no fix given: $(tail -n 1 "$SCRATCH/nobody-file.log")"
attach "$SCRATCH/file.log"
attach "$SCRATCH/nobody-file.log"
systemctl start stigmer
wait_for 30 ready || fail "not ready again after the start"
figure "$n events ($kinds); OOM kills named as such: server $oom, runner $oomr; server restarts $restarts (status and /metrics), last end: $last"
