#!/bin/bash
# plan: the README's apt block (keyring, .sources, Signed-By) on the old tree: enabled, active, /readyz
#
# From nothing installed, as an operator who adds the repository.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"
# shellcheck source=../../lib/repo.sh
. "$LIB/repo.sh"

pkg apt-get purge -y stigmer
repo_install apt-install
