# shellcheck shell=bash disable=SC2034 # its variables are the rows'
# sinks.sh: the stand-ins of an alert webhook and a mail relay
# (IN/fake-alert-sinks, on the guest's loopback: a webhook on 9099 and an
# SMTP relay on 2525), which record every delivery as a line of JSON
# ({"sink": "webhook"|"mail", "body"}) in ALERTS; and the env-file lines
# that send alerts to them.

ALERTS=$SCRATCH/deliveries.jsonl

# start_sinks: start fake-alert-sinks recording into ALERTS (its output
# goes to $SCRATCH/sinks.log; both are attached to a failure); sets SINKS to
# its PID and waits until both listen.
start_sinks() {
	"$IN/fake-alert-sinks" -out "$ALERTS" >>"$SCRATCH/sinks.log" 2>&1 </dev/null &
	SINKS=$!
	attach "$SCRATCH/sinks.log"
	attach "$ALERTS"
	wait_for 20 listening 9099 || fail "the fake webhook does not listen"
	wait_for 20 listening 2525 || fail "the fake relay does not listen"
}

# sink_settings prints the STIGMER_ALERT_* lines naming the stand-ins; the
# webhook's path stands for a token, which must never be logged.
sink_settings() {
	printf '%s\n' STIGMER_ALERT_WEBHOOK_URL=http://127.0.0.1:9099/hook/s3cr3t-token \
		STIGMER_ALERT_SMTP_SERVER=127.0.0.1:2525 STIGMER_ALERT_SMTP_FROM=stigmer@vmtest.example.com \
		STIGMER_ALERT_SMTP_TO=ops@example.com
}

# sent SINK PATTERN: deliveries to SINK (webhook, mail) whose body has PATTERN.
sent() { { grep -F "\"sink\":\"$1\"" "$ALERTS" 2>/dev/null | grep -cF -- "$2"; } || :; }
# hooked KIND: webhook deliveries of alerts of that kind.
hooked() { { jq -r 'select(.sink == "webhook") | .body | fromjson | .kind' "$ALERTS" 2>/dev/null | grep -cx -- "$1"; } || :; }
# hooked_once KIND: a webhook delivery of that kind came.
hooked_once() { [ "$(hooked "$1")" -ge 1 ]; }
