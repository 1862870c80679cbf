#!/bin/bash
# plan: fake webhook+SMTP on loopback: kill -9 one alert (unit, result, log lines), again held back then summed up, 5 runner kills one, clean stop none
#
# The alerts a failure sends, to a webhook receiver and an SMTP relay that
# record what they get (fake-alert-sinks, on the guest's loopback). It
# starts a new history, so that the rows before (which alerted to the
# journal) do not hold these alerts back, and leaves the env file and the
# service as it found them.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/sinks.sh
. "$LIB/sinks.sh"

# alerted: the kill -9 reached both sinks.
alerted() { [ "$(hooked server-died)" -ge 1 ] && [ "$(sent mail "died: killed by SIGKILL")" -ge 1 ]; }
# settle: wait until the deliveries file stops growing (2 s quiet).
settle() {
	local a b
	a=$(wc -c <"$ALERTS")
	while nap 2; b=$(wc -c <"$ALERTS"); [ "$a" != "$b" ]; do a=$b; done
}

start_sinks
# A new history; the interval short enough to see the summary.
systemctl stop stigmer
mv /var/lib/stigmer/history.db "$SCRATCH/history.db.before"
cp -p "$ENVFILE" "$SCRATCH/env"
{
	sink_settings
	echo STIGMER_ALERT_INTERVAL=45s
} >>"$ENVFILE"
systemctl start stigmer
wait_for 30 ready || fail "not ready with the alert settings"
[ "$(sent webhook '')" = 0 ] || fail "alerts before any failure: $(cat "$ALERTS")"

# kill -9: one alert, on both sinks, with the unit, result and log lines.
p0=$(mainpid) t0=$(now)
kill -9 "$p0"
wait_for 30 alerted ||
	fail "no alert on both sinks 30 s after kill -9 (webhook $(hooked server-died), mail $(sent mail died:))"
tsent=$(since "$t0")
body=$(grep -F '"sink":"webhook"' "$ALERTS" | head -n 1 | jq -r .body) || :
for want in '"unit":"stigmer.service"' '"result":"signal"' '"exit_status":"KILL"' 'server ready'; do
	grep -qF -- "$want" <<<"$body" || fail "the webhook's alert lacks $want: $body"
done
grep -F '"sink":"mail"' "$ALERTS" | head -n 1 | jq -r .body | grep -q 'Last log lines' || fail "the mail has no log lines"
wait_for 40 new_main "$p0" || fail "not restarted after kill -9"
wait_for 30 ready || fail "not ready after kill -9"

# Again within the interval: held back (the journal says so), no post.
p1=$(mainpid)
kill -9 "$p1"
wait_for 40 new_main "$p1" || fail "not restarted after the second kill -9"
wait_for 30 ready || fail "not ready after the second kill -9"
[ "$(hooked server-died)" = 1 ] || fail "the second kill -9 within the interval was posted too ($(hooked server-died) server-died alerts)"
[ "$(journal_count 'alert held back')" -gt 0 ] || fail "the journal does not say the second alert was held back"

# A runner killed 5 times (the default: 5 restarts in 10 minutes): one alert.
runner_read workflow-runner || fail "GET /api/v1/status lists no workflow-runner"
rp=$RUNNER_PID
for i in 1 2 3 4 5; do
	kill -9 "$rp" || fail "kill -9 of workflow-runner '$rp' failed"
	wait_for 30 runner_back workflow-runner "$rp" || { fail "workflow-runner not back after kill $i"; break; }
	rp=$RUNNER_PID
done
wait_for 20 hooked_once runner-crashing || fail "no runner-crashing alert after 5 kills"

# The held-back server alert, summed up once its interval is over.
wait_for 90 hooked_once summary || fail "no summary of the held-back alert within 90 s"
settle
died=$(hooked server-died) crash=$(hooked runner-crashing) sum=$(hooked summary) mails=$(sent mail '')
[ "$crash" = 1 ] || fail "$crash runner-crashing alerts for 5 kills, want 1"
[ "$sum" = 1 ] || fail "$sum summaries, want 1"
[ "$(jq -r 'select(.sink == "webhook") | .body | fromjson | select(.kind == "summary") | .held_back' "$ALERTS")" = 1 ] ||
	fail "the summary does not say 1 alert was held back"
[ "$mails" = 3 ] || fail "$mails mails, want 3 (server died, runner crashing, summary)"

# A clean stop alerts nobody; ExecStopPost has run when stop returns.
systemctl stop stigmer
[ "$(sent webhook '')" = $((died + crash + sum)) ] || fail "the clean stop sent an alert: $(tail -n 1 "$ALERTS")"
[ "$(sent mail '')" = "$mails" ] || fail "the clean stop sent a mail"
journaled=$(journal_count . -p alert)
secret=$(journal_count s3cr3t)
[ "$journaled" -ge 3 ] || fail "$journaled journal entries at priority alert, want 3 or more"
[ "$secret" = 0 ] || fail "the webhook's token is in the journal $secret times"
figure "kill -9: alert on webhook and mail ${tsent} s after; second kill held back, summed up once; 5 runner kills: $crash alert; clean stop: none; journal -p alert: $journaled; token logged: $secret"
cp -p "$SCRATCH/env" "$ENVFILE"
# The old history is the stigmer user's: purge must find nothing of it.
rm -f "$SCRATCH/history.db.before"
systemctl start stigmer
wait_for 30 ready || fail "not ready after restoring the env file"
kill "$SINKS"
