#!/bin/bash
# plan: dnf remove: stopped, disabled, unit+binary+license dir gone; data and user kept
# tags: toolchain
#
# From an enabled, running service with an edited env file and data, as an
# admin would erase it. rpm owns /usr/share/licenses/stigmer and removes
# it; /var/lib/stigmer holds data and stays; an edited %config(noreplace)
# file stays as .rpmsave.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"

systemctl enable --now stigmer 2>/dev/null
wait_for 30 ready || fail "not ready before the erase"
set_data
pkg dnf remove -y stigmer
check_gone
if [ -e /usr/share/licenses/stigmer ]; then fail "/usr/share/licenses/stigmer left after the erase"; fi
figure "left: $(existing /var/lib/stigmer /var/log/stigmer /etc/sysconfig/stigmer*)user $(id -u stigmer)"
