#!/bin/bash
# plan: stigmer alert test against fake webhook+SMTP: from the server (its settings, the unit's sandbox) each sink ok, exit 0; sinks down: each FAILED, exit 1; server stopped: sent by the command from the env file, exit 0; no alert event, the deliveries counted
#
# What an operator runs after configuring the alert sinks, against the
# webhook receiver and SMTP relay stand-ins (fake-alert-sinks, on the
# guest's loopback). Needs the new build running (after rpm-upgrade);
# leaves the env file and the service as it found them.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/sinks.sh
. "$LIB/sinks.sh"

# kinds: the kinds of the webhook's alerts, one a line.
kinds() { jq -r 'select(.sink == "webhook") | .body | fromjson | .kind' "$ALERTS" 2>/dev/null || :; }
mails() { { grep -cF '"sink":"mail"' "$ALERTS" 2>/dev/null; } || :; }
# alert_test: run `stigmer alert test`; sets OUT and RC.
alert_test() {
	RC=0
	OUT=$(/usr/bin/stigmer alert test 2>&1) || RC=$?
	echo "$OUT" >>"$SCRATCH/alert-test.log"
}
# sink_says SINK RESULT: alert test's line for SINK says RESULT.
sink_says() { grep -qE "^  $1 +$2 " <<<"$OUT" || fail "no '$1 $2' line: $(tr '\n' ';' <<<"$OUT")"; }
attach "$SCRATCH/alert-test.log"

start_sinks
cp -p "$ENVFILE" "$SCRATCH/env"
sink_settings >>"$ENVFILE"
systemctl restart stigmer
wait_for 30 ready || fail "not ready with the alert settings"

t0=$(now)
alert_test
tsent=$(since "$t0")
[ "$RC" = 0 ] || fail "alert test from the server exited $RC: $(tr '\n' ';' <<<"$OUT")"
[[ $OUT == "test alert sent by the server at /run/stigmer/stigmer.sock (pid $(mainpid)), with its configuration, under the unit's sandbox:"* ]] ||
	fail "not said to come from the service's server: $(head -n 1 <<<"$OUT")"
for s in journal webhook mail; do sink_says "$s" ok; done
[ "$(kinds)" = test ] || fail "the webhook got '$(kinds | tr '\n' ' ')', want one test alert"
[ "$(mails)" = 1 ] || fail "$(mails) mails, want 1"
[ "$(journal_count 'a test alert, sent by .stigmer alert test. as uid 0 [(]root[)]' -p alert)" -ge 1 ] ||
	fail "no test alert at priority alert in journalctl -u stigmer -p alert"
if /usr/bin/stigmer events --json | jq -e '[.events[] | select((.reason // "") | contains("a test alert"))] | length > 0' >/dev/null; then
	fail "the test alert is an event of the history"
fi
http /metrics
grep -qx 'stigmer_alert_sends_total{result="delivered",sink="webhook"} [1-9][0-9]*' <<<"$HTTP_BODY" ||
	fail "/metrics does not count the webhook delivery: $(grep alert_sends <<<"$HTTP_BODY" | tr '\n' ' ')"

# The sinks down: each fails, named, and the command exits 1.
kill "$SINKS"
wait "$SINKS" 2>/dev/null || : # ended by the signal just sent
alert_test
[ "$RC" = 1 ] || fail "with the sinks down alert test exited $RC, want 1"
sink_says webhook FAILED
sink_says mail FAILED
grep -q 'did not reach webhook and mail' <<<"$OUT" || fail "the error does not name the failed sinks: $(tail -n 1 <<<"$OUT")"

# No server: the command sends it with the env file read as systemd does.
start_sinks
systemctl stop stigmer
alert_test
[ "$RC" = 0 ] || fail "alert test without the server exited $RC: $(tr '\n' ';' <<<"$OUT")"
[[ $OUT == *"by this command (no server socket found), with the settings of the env file $ENVFILE (read as systemd reads it), outside the unit's sandbox:"* ]] ||
	fail "without the server, not said to come from the env file outside the sandbox: $(head -n 1 <<<"$OUT")"
sink_says webhook ok
sink_says mail ok
[ "$(kinds | grep -c test)" = 2 ] || fail "the webhook got $(kinds | grep -c test) test alerts, want 2"
figure "from the server: 3 sinks ok in ${tsent} s; sinks down: webhook and mail FAILED, exit 1; stopped: from $ENVFILE, ok"

cp -p "$SCRATCH/env" "$ENVFILE"
restart_service
kill "$SINKS"
