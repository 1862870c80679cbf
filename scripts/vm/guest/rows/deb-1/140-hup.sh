#!/bin/bash
# plan: kill -HUP main PID (dies by the signal): restarted
#
# A death by SIGHUP, which Restart=on-failure alone calls clean;
# RestartForceExitStatus= makes it a restart.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"

kill_main HUP 60
