#!/bin/bash
# plan: the README's apt block (keyring, .sources, Signed-By) on the old tree: enabled, active, /readyz
#
# From nothing installed, as an operator who adds the repository. The rows
# before it may have purged the package already: apt then knows no stigmer at
# all, and its purge would fail ("Unable to locate package").
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"
# shellcheck source=../../lib/repo.sh
. "$LIB/repo.sh"

if dpkg-query -W stigmer >/dev/null 2>&1; then
	pkg apt-get purge -y stigmer
fi
repo_install apt-install
