# shellcheck shell=bash disable=SC2034 # its variables are the rows'
# sinks.sh: the fake alert sinks (IN/fake-alert-sinks: a webhook receiver
# on 127.0.0.1:9099 and an SMTP relay on 127.0.0.1:2525), which record
# every delivery as a line of JSON ({"sink": "webhook"|"mail", "body"}) in
# ALERTS.

ALERTS=$SCRATCH/deliveries.jsonl

# start_sinks: the sinks run (SINKS: their PID) and the webhook listens.
start_sinks() {
	"$IN/fake-alert-sinks" -out "$ALERTS" >"$SCRATCH/sinks.log" 2>&1 </dev/null &
	SINKS=$!
	attach "$SCRATCH/sinks.log"
	attach "$ALERTS"
	wait_for 20 listening 9099 || fail "the fake webhook does not listen"
}

# sent SINK PATTERN: deliveries to SINK (webhook, mail) whose body has PATTERN.
sent() { { grep -F "\"sink\":\"$1\"" "$ALERTS" 2>/dev/null | grep -cF -- "$2"; } || :; }
# hooked KIND: webhook deliveries of alerts of that kind.
hooked() { { jq -r 'select(.sink == "webhook") | .body | fromjson | .kind' "$ALERTS" 2>/dev/null | grep -cx -- "$1"; } || :; }
# hooked_once KIND: a webhook delivery of that kind came.
hooked_once() { [ "$(hooked "$1")" -ge 1 ]; }
