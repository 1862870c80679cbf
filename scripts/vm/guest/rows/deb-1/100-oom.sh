#!/bin/bash
# plan: kernel OOM kill of main PID (sysrq f): restarted
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"

p0=$(mainpid)
kill_main OOM 60
journalctl -k -q --no-pager | grep -q "Killed process $p0 " || fail "the kernel log shows no OOM kill of $p0"
