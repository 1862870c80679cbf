#!/bin/bash
# plan: apt purge after the upgrades from the /lib build: no unit at /lib or /usr/lib, systemd knows none
#
# The upgrade rows before it moved the unit from /lib/systemd/system (the
# older build) to /usr/lib/systemd/system; purging the package that came of
# that leaves no unit under either name, and nothing else of stigmer's.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"

deb_lists "$UNIT" || fail "stigmer is not the upgraded build: dpkg does not list $UNIT"
pkg apt-get purge -y stigmer
for f in "$UNIT" "$OLDER_UNIT" /usr/bin/stigmer; do
	if [ -e "$f" ] || [ -L "$f" ]; then fail "$f left after the purge"; fi
done
if systemctl cat stigmer >/dev/null 2>&1; then fail "systemd still knows stigmer.service"; fi
if wants_link; then fail "enablement left: $(find /etc/systemd/system -name stigmer.service)"; fi
left=$(find / -xdev \( -path /proc -o -path /sys -o -path /run \) -prune -o -iname '*stigmer*' -print 2>/dev/null) || :
[ -z "$left" ] || fail "left on disk: $(echo "$left" | tr '\n' ' ')"
figure "searched / for *stigmer*: $(grep -c . <<<"$left") found"
