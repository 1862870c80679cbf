#!/bin/bash
# plan: apt install with disable * in /etc/systemd/system-preset: disabled and stopped (deb-systemd-helper presets a first install); enable --now starts it; without: enabled, running
#
# Debian ships no presets of its own, but deb-systemd-helper enables a first
# install through systemctl preset, and deb-systemd-invoke starts no disabled
# unit: an admin's disable * holds for the .deb too.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"

preset_case "apt install -y ./$NEW_DEB" "apt-get purge -y stigmer" disabled
