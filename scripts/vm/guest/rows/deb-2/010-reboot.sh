#!/bin/bash
# plan: reboot: service comes up by itself
# tags: toolchain
#
# Reads $STATE/boot-id, which run.sh writes at the end of every boot: this
# boot must be another one, on the same disk.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"

if [ ! -f "$STATE/boot-id" ]; then
	fail "no $STATE/boot-id from the boot before: not the same disk"
elif [ "$(cat "$STATE/boot-id")" = "$(cat /proc/sys/kernel/random/boot_id)" ]; then
	fail "same boot id as the boot before"
fi
wait_for 60 ready || fail "/readyz not 200 within 60 s of boot completion"
figure "active at uptime $(awk -v s="$(prop ExecMainStartTimestampMonotonic)" 'BEGIN {printf "%.1f", s / 1e6}') s, /readyz 200 at uptime $(now) s, NRestarts $(prop NRestarts)"
[ "$(systemctl is-enabled stigmer)" = enabled ] || fail "is-enabled: $(systemctl is-enabled stigmer)"
check_running "$NEW_VERSION"
