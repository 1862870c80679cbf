#!/bin/sh
# A stand-in for the docker CLI, which cannot run here (no Docker engine).
# Its settings are DOCKER_* variables, which the server passes to the
# container CLI. It records its arguments in $DOCKER_STANDIN_LOG; `rm`
# answers like docker for a missing container, after the file
# $DOCKER_STANDIN_RM_BLOCK (if set) is gone; `run` waits for the file
# $DOCKER_STANDIN_GATE (an image pull) and then runs the native agent runner
# ($DOCKER_STANDIN_STIGMER_BIN) in its place, as the container would.
set -eu
echo "$*" >> "$DOCKER_STANDIN_LOG"
case "$1" in
rm) while [ -e "${DOCKER_STANDIN_RM_BLOCK:-}" ]; do sleep 0.05; done
    echo "Error response from daemon: No such container: $3" >&2; exit 1 ;;
run) while [ ! -e "$DOCKER_STANDIN_GATE" ]; do sleep 0.05; done
     exec "$DOCKER_STANDIN_STIGMER_BIN" internal-agent-runner ;;
esac
exit 125
