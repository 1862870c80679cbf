#!/bin/bash
# plan: apt purge: nothing of stigmer on disk, user and group kept with their IDs
#
# The user and group outlive the purge (a reinstall reuses them; deleted,
# their IDs could go to the next system user, which would own stigmer's
# leftovers); no file of stigmer's, nor one owned by those IDs, is left.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"

uid=$(id -u stigmer) gid=$(getent group stigmer | cut -d: -f3)
pkg apt-get purge -y stigmer
[ "$(id -u stigmer 2>/dev/null)" = "$uid" ] || fail "user stigmer (uid $uid) not kept: $(getent passwd stigmer)"
[ "$(getent group stigmer | cut -d: -f3)" = "$gid" ] || fail "group stigmer (gid $gid) not kept: $(getent group stigmer)"
# find exits 1 when a file vanishes while it walks; what it printed is
# what is left.
left=$(find / -xdev \( -path /proc -o -path /sys -o -path /run \) -prune -o \
	\( -iname '*stigmer*' -o -uid "$uid" -o -gid "$gid" \) -print 2>/dev/null) || :
[ -z "$left" ] || fail "left on disk: $(echo "$left" | tr '\n' ' ')"
if dpkg-query -W -f='${Status}' stigmer 2>/dev/null | grep -q 'installed\|config-files'; then
	fail "dpkg still lists stigmer: $(dpkg-query -W -f='${Status}' stigmer)"
fi
figure "searched / for *stigmer* and uid/gid $uid/$gid: $(grep -c . <<<"$left") found; user and group kept"
