#!/bin/bash
# plan: apt install after remove: unmasked, enabled, active, env edit kept
# tags: toolchain
#
# As dh_installsystemd does it: the remove's mask goes, the kept enablement
# holds, the unit starts. Reads $STATE/remove.edit, which the remove row
# leaves: the env file's edit that must still be there.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"

if ! edit=$(cat "$STATE/remove.edit" 2>/dev/null); then
	fail "no $STATE/remove.edit: the remove row must run before this one"
	exit 0
fi
pkg apt install -y "./$NEW_DEB"
wait_for 30 ready || fail "/readyz not 200 within 30 s of the reinstall"
if [ -e /etc/systemd/system/stigmer.service ]; then fail "still masked: $(ls -l /etc/systemd/system/stigmer.service)"; fi
[ "$(systemctl is-enabled stigmer 2>&1)" = enabled ] || fail "is-enabled: $(systemctl is-enabled stigmer 2>&1), want enabled"
kept=yes
grep -qx "$edit" "$ENVFILE" || { kept=no; fail "the env file lost the edit $edit"; }
check_running "$NEW_VERSION"
figure "$(systemctl is-active stigmer), $(systemctl is-enabled stigmer 2>&1), edit kept: $kept"
