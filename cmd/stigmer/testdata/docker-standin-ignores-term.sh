#!/bin/sh
# A stand-in for the docker CLI (no Docker engine runs here) whose `run` is
# a container that ignores SIGTERM, noting each one in $DOCKER_STANDIN_LOG
# after a first line, RUN, that says the trap is set (a SIGTERM before it
# would end the script).
set -eu
case "$1" in
rm) exit 1 ;;
run) trap 'echo TERM >> "$DOCKER_STANDIN_LOG"' TERM
     echo RUN >> "$DOCKER_STANDIN_LOG"
     # A signal that reaches the sleep too must not end the loop.
     while :; do sleep 0.1 || :; done ;;
esac
exit 125
