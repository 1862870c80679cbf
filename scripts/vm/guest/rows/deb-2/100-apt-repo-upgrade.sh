#!/bin/bash
# plan: the README's apt-get upgrade from the new tree: new version, one restart, env edit and data kept, both versions listed
# tags: toolchain
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"
# shellcheck source=../../lib/repo.sh
. "$LIB/repo.sh"

repo_upgrade apt-upgrade apt-cache madison stigmer
