#!/bin/bash
# plan: kill -9 main PID: new PID after RestartSec, NRestarts +1
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"

kill_main KILL 60
