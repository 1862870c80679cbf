#!/bin/bash
# plan: dnf install ./stigmer-<v>.x86_64.rpm (after the RHEL base stand-in where rpm's database is empty): enabled, active, /readyz, user, dirs, rpm -V
# tags: always toolchain
#
# The older build, which the upgrade rows then upgrade. On a Debian guest
# rpm's database is empty (Debian's rpm): the stand-in provides what a RHEL
# base system would (/bin/sh, shadow-utils, systemd), so that the stigmer
# rpm's Requires are checked, not skipped with --nodeps. A RHEL-family
# guest has the real ones.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"

# A guest that ran the .deb rows before (deb13) purges the .deb first: rpm
# knows nothing of dpkg's files.
if dpkg-query -W -f='${Status}' stigmer 2>/dev/null | grep -q 'ok installed'; then
	pkg apt-get purge -y stigmer
fi
if ! rpm -q systemd >/dev/null 2>&1; then
	pkg dnf install -y "./$STANDIN_RPM"
fi
install_fresh "$OLD_VERSION" dnf install -y "./$OLD_RPM"
rpm -V stigmer >"$SCRATCH/rpm-V.log" 2>&1 || fail "rpm -V stigmer: $(tr '\n' ';' <"$SCRATCH/rpm-V.log")"
