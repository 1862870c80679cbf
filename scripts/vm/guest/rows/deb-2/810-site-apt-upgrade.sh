#!/bin/bash
# plan: the release rehearsal's site, next release (signed by the next key alone): the README's apt-get upgrade; stigmer and keyring upgraded, no apt warning, one restart, env edit and data kept, both releases offered
# guests: deb13
#
# The key rotation as a host that ran only the README's blocks meets it:
# the first release's keyring package brought the next key, which alone
# signs this release. Leaves the next release running for
# site-apt-downgrade.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/rehearsal.sh
. "$LIB/rehearsal.sh"

serve "rehearsal/v$NEXT"
signed_by_next "$SERVE/dists/stable/Release.gpg"
rehearsal_change "$NEXT" "${README_RUN[@]}" "$REHEARSAL/apt-upgrade.sh"
quiet_apt
v=$(dpkg-query -W -f '${Version}' stigmer-archive-keyring 2>&1) || :
[ "$v" = "$NEXT" ] || fail "stigmer-archive-keyring is '$v', want $NEXT"
the_keys /usr/share/keyrings/stigmer-archive-keyring.gpg
offered=$(apt-cache madison stigmer | awk -F'|' '{gsub(/ /, "", $2); print $2}' | sort -V | tr '\n' ' ')
[ "$offered" = "$FIRST $NEXT " ] || fail "apt-cache madison stigmer offers '$offered', want $FIRST and $NEXT"
figure "$CHANGE; stigmer-archive-keyring $v; offered: $offered"
