#!/bin/bash
# plan: history.db cut short while stopped: stigmer events says so (no fault); the service starts, no crash loop; the file kept as history.db.broken-TIME, a new history says so; the alert and doctor name it
# guests: deb13
#
# bbolt maps the file: read past the end of a short one, it is a SIGBUS that
# no recover catches. The history is checked before it is mapped; a damaged
# one is moved aside and a new one started. It leaves the service running
# with a new history (one history-broken event) and the env file restored.
# One guest is enough: it is the binary's behaviour (server, ExecStopPost,
# CLI, doctor) on any systemd; the events row covers the history there.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/doctor.sh
. "$LIB/doctor.sh"
# shellcheck source=../../lib/sinks.sh
. "$LIB/sinks.sh"

DB=/var/lib/stigmer/history.db
# faults: the unit's journal lines of a Go fault or a SIGBUS.
faults() { journal_count 'fatal error: fault|SIGBUS|unexpected fault address'; }

start_sinks
cp -p "$ENVFILE" "$SCRATCH/env"
echo 'STIGMER_ALERT_WEBHOOK_URL=http://127.0.0.1:9099/hook/s3cr3t-token' >>"$ENVFILE"
systemctl stop stigmer
size=$(stat -c %s "$DB")
[ "$size" -ge 16384 ] || fail "history.db is $size bytes: too short to cut at 12288"
truncate -s 12288 "$DB"
sum=$(sha256sum <"$DB")
f0=$(faults)

# Stopped, root reads the file: an error that names the damage, not a
# fault; a reader leaves the file where it is.
rc=0
/usr/bin/stigmer events >"$SCRATCH/events-stopped.log" 2>&1 || rc=$?
attach "$SCRATCH/events-stopped.log"
[ "$rc" = 1 ] || fail "stigmer events on the cut-short file exited $rc, want 1: $(tail -n 2 "$SCRATCH/events-stopped.log" | tr '\n' ' ')"
grep -q 'history.db: damaged: cut short' "$SCRATCH/events-stopped.log" ||
	fail "stigmer events does not say the history is damaged, cut short: $(tail -n 2 "$SCRATCH/events-stopped.log" | tr '\n' ' ')"
if grep -q 'fatal error' "$SCRATCH/events-stopped.log"; then fail "stigmer events died of a fault"; fi
[ "$(sha256sum <"$DB" 2>&1)" = "$sum" ] || fail "stigmer events changed or moved history.db"

t0=$(now)
systemctl start stigmer || fail "systemctl start with history.db cut short failed (state $(prop ActiveState)/$(prop SubState))"
wait_for 30 ready || fail "not ready within 30 s of the start with history.db cut short (state $(prop ActiveState)/$(prop SubState))"
tready=$(since "$t0")
# NRestarts counts from the last start by hand: a crash loop shows here.
[ "$(prop NRestarts)" = 0 ] || fail "NRestarts is $(prop NRestarts) after the start: a crash loop"
[ "$(faults)" = "$f0" ] || fail "a fault in the journal: $(journalctl -u stigmer -q -o cat | grep -m1 -E 'fatal error|SIGBUS')"

# The damaged file, as it was, beside a new history.
broken=$(find /var/lib/stigmer -maxdepth 1 -name 'history.db.broken-*' | head -n 1)
if [ -z "$broken" ]; then
	fail "no history.db.broken-* in /var/lib/stigmer: $(cd /var/lib/stigmer && echo *)"
	broken=/var/lib/stigmer/history.db.broken-MISSING
else
	[ "$(sha256sum <"$broken")" = "$sum" ] || fail "$broken is not the file that was cut short"
	[ "$(stat -c '%a %U' "$broken")" = "600 stigmer" ] || fail "$broken is $(stat -c '%a %U' "$broken"), want 600 stigmer"
fi
[ "$(stat -c '%a %U' "$DB" 2>&1)" = "600 stigmer" ] || fail "the new history.db is $(stat -c '%a %U' "$DB" 2>&1), want 600 stigmer"
ev=$(/usr/bin/stigmer events --json) || fail "stigmer events exited $? with the new history"
# shellcheck disable=SC2016 # $b is jq's
jq -e --arg b "$broken" '[.events[] | select(.kind == "history-broken" and (.reason | contains($b)) and (.reason | contains("cut short")))] | length == 1' <<<"$ev" >/dev/null ||
	fail "the new history does not say once that the old one was cut short and kept as $broken: $(jq -c '[.events[] | {kind, reason}]' <<<"$ev")"

# The alert names the file.
wait_for 30 hooked_once history-broken || fail "no history-broken alert on the webhook within 30 s of ready"
summary=$(jq -r 'select(.sink == "webhook") | .body | fromjson | select(.kind == "history-broken") | .summary' "$ALERTS")
grep -qF -- "$broken" <<<"$summary" || fail "the alert does not name $broken: $summary"

# doctor names it and what to do; once it is gone, history passes.
doctor_run
doctor_fails history "was damaged and moved aside as $broken" "sudo rm $broken"
rm -f "$broken"
doctor_run
grep -q '^PASS  history ' <<<"$DOC_OUT" || fail "doctor's history check once the broken file is deleted: $(grep ' history ' <<<"$DOC_OUT")"
figure "history.db $size -> 12288 bytes: events while stopped exit $rc, says cut short; ready ${tready} s after start, NRestarts $(prop NRestarts); kept as ${broken##*/}; event, alert and doctor name it"

cp -p "$SCRATCH/env" "$ENVFILE"
systemctl restart stigmer || fail "systemctl restart after restoring the env file failed"
wait_for 30 ready || fail "not ready after restoring the env file"
kill "$SINKS"
