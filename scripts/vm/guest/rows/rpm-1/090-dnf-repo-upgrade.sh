#!/bin/bash
# plan: the README's dnf upgrade from the new tree: new version, one restart, env edit and data kept, .rpmnew, both versions listed
# tags: toolchain
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"
# shellcheck source=../../lib/repo.sh
. "$LIB/repo.sh"

repo_upgrade dnf-upgrade dnf -q repoquery --showduplicates stigmer
