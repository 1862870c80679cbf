#!/bin/bash
# plan: apt install ./stigmer_<v>_amd64.deb: enabled, active, 3 procs as stigmer, dirs, /readyz, journal, version
# tags: always toolchain
#
# The install the rows after it start from (so it runs under STIGMER_VM_ONLY
# too): the service installed, enabled and running. Each row below leaves
# it so.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"

install_fresh "$NEW_VERSION" apt install -y "./$NEW_DEB"
