#!/bin/bash
# plan: systemd-analyze security stigmer: exposure figure (<= 1.2 on systemd 252)
# tags: toolchain
#
# The unit's exposure as systemd-analyze rates it; systemd 252 and later
# rate every directive the unit sets.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"

sd=$(systemctl --version | awk 'NR == 1 {print $2}')
x=$(systemd-analyze security stigmer.service 2>&1 | sed -n 's/.*Overall exposure level for stigmer.service: \([0-9.]*\).*/\1/p')
if [ -z "$x" ]; then
	fail "systemd-analyze security printed no exposure level"
elif [ "$sd" -ge 252 ] && ! ge 1.2 "$x"; then
	fail "exposure $x on systemd $sd, want 1.2 or below"
fi
figure "systemd $sd: exposure $x"
