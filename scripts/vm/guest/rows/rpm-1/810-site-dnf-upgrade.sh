#!/bin/bash
# plan: the release rehearsal's site, next release (signed by the next key alone): the README's dnf upgrade; stigmer and stigmer-release upgraded, rpm trusts the next key, one restart, env edit and data kept
#
# The key rotation as a host that ran only the README's blocks meets it:
# dnf finds the next key in the file the first release's stigmer-release
# installed (it holds both). Leaves the next release running for
# site-dnf-downgrade.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/rehearsal.sh
. "$LIB/rehearsal.sh"

serve "rehearsal/v$NEXT"
signed_by_next "$SERVE/repodata/repomd.xml.asc"
rehearsal_change "$NEXT" "${README_RUN[@]}" "$REHEARSAL/dnf-upgrade.sh"
v=$(rpm -q --qf '%{VERSION}' stigmer-release 2>&1) || :
[ "$v" = "$NEXT" ] || fail "stigmer-release is '$v', want $NEXT"
the_keys /etc/pki/rpm-gpg/RPM-GPG-KEY-stigmer
trusted=$(rpm -q gpg-pubkey --qf '%{VERSION}\n' | tr a-f A-F | tr '\n' ' ')
[[ " $trusted" == *" ${NEXT_KEY: -8} "* ]] || fail "rpm trusts '$trusted', not the next key ${NEXT_KEY: -8}"
figure "$CHANGE; stigmer-release $v; rpm trusts $trusted"
