#!/bin/bash
# plan: the release rehearsal's site, first release (first key): the README's apt block of its tag on a bare host; keyring package first, owning the key and .sources the block wrote, both keys; enabled, active
# guests: deb13
#
# The site `go tool mage release:rehearse` deployed, served as Pages serves
# it (IN/repo/rehearsal, lib/rehearsal.sh). It purges what the rows before
# installed and leaves the first release running for site-apt-upgrade. One
# Debian guest is enough: the packages are the ones the other rows install;
# what is new here is the repository, the keys and apt's part (the README's
# repository blocks run on every Debian guest in apt-repo-install).
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/rehearsal.sh
. "$LIB/rehearsal.sh"

rehearsal_install apt-install
quiet_apt
v=$(dpkg-query -W -f '${Version}' stigmer-archive-keyring 2>&1) || :
[ "$v" = "$FIRST" ] || fail "stigmer-archive-keyring is '$v', want $FIRST"
# The keyring package took over the key and the source the block wrote
# (the same contents: dpkg asked nothing, set nothing aside) and carries
# the next key.
for f in /usr/share/keyrings/stigmer-archive-keyring.gpg /etc/apt/sources.list.d/stigmer.sources; do
	owner=$(dpkg -S "$f" 2>&1) || :
	[ "${owner%%:*}" = stigmer-archive-keyring ] || fail "$f: dpkg -S says '$owner', want stigmer-archive-keyring"
done
changed=$(dpkg --verify stigmer-archive-keyring 2>&1) || :
[ -z "$changed" ] || fail "dpkg --verify stigmer-archive-keyring: $changed"
aside=$(existing /etc/apt/sources.list.d/stigmer.sources.dpkg-*)
[ -z "$aside" ] || fail "dpkg set the block's source aside: $aside"
the_keys /usr/share/keyrings/stigmer-archive-keyring.gpg
order=$(awk '$3 == "install" && $4 ~ /^stigmer/ {print $4}' /var/log/dpkg.log | tail -n 2 | tr '\n' ' ')
[ "$order" = "stigmer-archive-keyring:all stigmer:amd64 " ] || fail "dpkg installed '$order', want the keyring package first"
figure "$FIG; stigmer $(version), stigmer-archive-keyring $v (keys: first and next) installed first"
