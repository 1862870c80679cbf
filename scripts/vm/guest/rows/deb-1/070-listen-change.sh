#!/bin/bash
# plan: STIGMER_LISTEN moved + systemctl restart: exit 78 (kept socket differs), then start serves the new port
#
# The operator moves the API to another port and restarts, as the guide says
# for any env change. The restart keeps the stored socket (the old port): the
# new server refuses it with exit 78 and says what to do, and the failed start
# releases the store, so `systemctl start` then serves the new port. The
# README says to stop and start when changing the port.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"

cp -p "$ENVFILE" "$SCRATCH/env.orig"
echo 'STIGMER_LISTEN=127.0.0.1:7236' >>"$ENVFILE"
n0=$(journal_count 'the socket systemd kept')
if systemctl restart stigmer 2>/dev/null; then fail "systemctl restart succeeded though the kept socket is at 7234"; fi
st=$(prop ExecMainStatus)
[ "$st" = 78 ] || fail "the refused start exited $st, want 78"
[ "$(journal_count 'the socket systemd kept')" -gt "$n0" ] ||
	fail "no journal line saying the kept socket differs from STIGMER_LISTEN"
[ -z "$(listen_ino)" ] || fail "the kept socket still listens on 7234 after the failed start"
systemctl start stigmer || fail "systemctl start after the exit 78 failed"
API_PORT=7236 wait_for 30 ready || fail "/readyz on 7236 not 200 within 30 s of systemctl start"
if listening; then fail "7234 still answers after the move to 7236"; fi
figure "restart: exit $st refused start, then start: $(API_PORT=7236 http /readyz; echo "$HTTP_CODE") on 7236"
# Back, the way the README says: stop, then start.
cp -p "$SCRATCH/env.orig" "$ENVFILE"
systemctl stop stigmer
restart_service
