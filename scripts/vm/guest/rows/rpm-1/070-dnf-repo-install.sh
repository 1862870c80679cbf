#!/bin/bash
# plan: the README's dnf block (key, .repo with gpgcheck+repo_gpgcheck) on the old tree: enabled, active, /readyz
# tags: toolchain
#
# From nothing installed (the rpm-erase row removed it), as an operator who
# adds the repository.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"
# shellcheck source=../../lib/repo.sh
. "$LIB/repo.sh"

repo_install dnf-install
