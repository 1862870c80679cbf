#!/bin/bash
# plan: journal start line +1 in this systemd's form; the guide's grep count
# tags: toolchain
#
# systemd 247 logs a start as the description alone ("Started Stigmer
# Server ..."); 252 puts the unit name first ("Started stigmer.service -
# Stigmer Server ..."), so the guide's grep counts 0 there. Reads
# $STATE/kill9.window, which the kill9 row leaves: the start line systemd
# logged for that row's restart must be there once, in this systemd's form.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"

if ! read -r t0 t1 2>/dev/null <"$STATE/kill9.window"; then
	fail "no $STATE/kill9.window: the kill9 row must run before this one"
	exit 0
fi
sd=$(systemctl --version | awk 'NR == 1 {print $2}')
read -r plain unit < <(journalctl -u stigmer -q --no-pager -o short-monotonic --no-hostname |
	awk -v a="$t0" -v b="$t1" -v p="$START_PLAIN" -v u="$START_UNIT" '
		{t = $0; sub(/^\[ */, "", t); sub(/\].*/, "", t); m = $0; sub(/^[^:]*: /, "", m)}
		t + 0 >= a && t + 0 <= b {if (m ~ p) np++; if (m ~ u) nu++}
		END {print np + 0, nu + 0}')
# The guide's command, as an operator types it.
guide=$(journalctl -u stigmer | grep -c "Started Stigmer Server") || :
figure "systemd $sd: during the kill9 row's restart 'Started Stigmer Server' $plain, 'Started stigmer.service - Stigmer Server' $unit; guide's grep -c: $guide; NRestarts $(prop NRestarts)"
if [ "$sd" -le 247 ]; then
	[ "$plain" = 1 ] || fail "$plain plain start lines for the kill9 row's restart, want 1"
	[ "$(journal_count "$START_UNIT")" = 0 ] || fail "unit-name start lines appeared on systemd $sd"
else
	[ "$unit" = 1 ] || fail "$unit unit-name start lines for the kill9 row's restart, want 1"
	[ "$(journal_count "$START_PLAIN")" = 0 ] || fail "plain start lines on systemd $sd: $(journal_count "$START_PLAIN")"
fi
