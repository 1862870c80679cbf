#!/bin/sh
# A stand-in for the docker CLI, which cannot run here (no Docker engine).
# It records its arguments in $STANDIN_LOG; `rm` answers like docker for a
# missing container, after the file $STANDIN_RM_BLOCK (if set) is gone; `run` waits
# for the file $STANDIN_GATE (an image pull) and then runs the native agent
# runner ($STIGMER_BIN) in its place, as the container would.
set -eu
echo "$*" >> "$STANDIN_LOG"
case "$1" in
rm) while [ -e "${STANDIN_RM_BLOCK:-}" ]; do sleep 0.05; done
    echo "Error response from daemon: No such container: $3" >&2; exit 1 ;;
run) while [ ! -e "$STANDIN_GATE" ]; do sleep 0.05; done
     exec "$STIGMER_BIN" internal-agent-runner ;;
esac
exit 125
