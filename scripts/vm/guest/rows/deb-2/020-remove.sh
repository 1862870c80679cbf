#!/bin/bash
# plan: apt remove: stopped, masked, unit+binary gone; data, env, user, enablement kept
# tags: toolchain
#
# Leaves $STATE/remove.edit for the reinstall row: the line it added to the
# env file, which remove keeps and the reinstall must keep too.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"

set_data
echo "$EDIT" >"$STATE/remove.edit"
pkg apt-get remove -y stigmer
check_gone
grep -qx "$EDIT" "$ENVFILE" || fail "$ENVFILE (edited) removed"
figure "left: $(existing /var/lib/stigmer /var/log/stigmer "$ENVFILE")user $(id -u stigmer)"
