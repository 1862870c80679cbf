#!/bin/sh
# A stand-in for a container CLI (no Docker engine runs here) whose `rm`
# hangs, like a stuck engine. The sleep runs as a child, not exec'd, so
# that it outlives the killed CLI and keeps the output pipe open.
set -eu
case "$1" in
rm) sleep 600; exit 0 ;;
esac
exit 125
