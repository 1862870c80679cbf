#!/bin/bash
# plan: the release rehearsal's site, first release (first key): the README's dnf block of its tag on a bare host; stigmer-release first, owning the key and .repo the block wrote, both keys; enabled, active
#
# The site `go tool mage release:rehearse` deployed, served as Pages serves
# it (IN/repo/rehearsal, lib/rehearsal.sh). It removes what the rows before
# installed, the keys rpm trusts, the user and the data, and leaves the
# first release running for site-dnf-upgrade.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/rehearsal.sh
. "$LIB/rehearsal.sh"

rehearsal_install dnf-install
v=$(rpm -q --qf '%{VERSION}' stigmer-release 2>&1) || :
[ "$v" = "$FIRST" ] || fail "stigmer-release is '$v', want $FIRST"
# stigmer-release took over the key and the .repo the block wrote (the
# same .repo: no .rpmnew) and carries the next key.
changed=$(rpm -V stigmer-release 2>&1) || fail "rpm -V stigmer-release: $changed"
aside=$(existing /etc/yum.repos.d/stigmer.repo.rpm*)
[ -z "$aside" ] || fail "rpm set a .repo aside: $aside"
the_keys /etc/pki/rpm-gpg/RPM-GPG-KEY-stigmer
trusted=$(rpm -q gpg-pubkey --qf '%{VERSION}\n' | tr a-f A-F | tr '\n' ' ')
[[ " $trusted" == *" ${FIRST_KEY: -8} "* ]] || fail "rpm trusts '$trusted', not the first key ${FIRST_KEY: -8}"
read -r tk tr < <(rpm -q --qf '%{INSTALLTIME} ' stigmer-release stigmer) || :
[ "${tk:-x}" -lt "${tr:-0}" ] 2>/dev/null || fail "stigmer-release installed at ${tk:-?}, stigmer at ${tr:-?}: want the keyring package first"
figure "$FIG; stigmer $(version), stigmer-release $v (keys: first and next) installed first; rpm trusts $trusted"
