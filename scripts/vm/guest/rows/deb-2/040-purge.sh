#!/bin/bash
# plan: apt purge: nothing of stigmer on disk, no user or group
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"

uid=$(id -u stigmer) gid=$(getent group stigmer | cut -d: -f3)
pkg apt-get purge -y stigmer
if getent passwd stigmer >/dev/null; then fail "user stigmer still there"; fi
if getent group stigmer >/dev/null; then fail "group stigmer still there"; fi
# find exits 1 when a file vanishes while it walks; what it printed is
# what is left.
left=$(find / -xdev \( -path /proc -o -path /sys -o -path /run \) -prune -o \
	\( -iname '*stigmer*' -o -uid "$uid" -o -gid "$gid" \) -print 2>/dev/null) || :
[ -z "$left" ] || fail "left on disk: $(echo "$left" | tr '\n' ' ')"
if dpkg-query -W -f='${Status}' stigmer 2>/dev/null | grep -q 'installed\|config-files'; then
	fail "dpkg still lists stigmer: $(dpkg-query -W -f='${Status}' stigmer)"
fi
figure "searched / for *stigmer* and uid/gid $uid/$gid: $(grep -c . <<<"$left") found"
