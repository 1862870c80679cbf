#!/bin/sh
# A stand-in for the docker CLI (no Docker engine runs here) whose container
# lives apart from the client, as the engine's does: `run` starts the native
# agent runner in a session of its own and waits for it, passing SIGTERM on
# (docker run's signal proxy); a signal to the client's process group does
# not reach it. `kill NAME` kills it by its name, `rm` finds nothing. Its
# settings are DOCKER_* variables, which the server passes to the container
# CLI: $DOCKER_STANDIN_DIR holds NAME.pid and the calls made, one a line.
set -eu
dir=$DOCKER_STANDIN_DIR
echo "$*" >>"$dir/calls"
case "$1" in
rm) echo "Error response from daemon: No such container: $3" >&2; exit 1 ;;
kill)
	if ! pid=$(cat "$dir/$2.pid" 2>/dev/null) || ! kill -KILL "$pid" 2>/dev/null; then
		echo "Error response from daemon: No such container: $2" >&2; exit 1
	fi
	echo "$2"; exit 0 ;;
run)
	name=$5 # run --rm --init --name NAME ...
	setsid "$DOCKER_STANDIN_STIGMER_BIN" internal-agent-runner &
	pid=$!
	echo "$pid" >"$dir/$name.pid"
	trap 'kill -TERM "$pid" 2>/dev/null || :' TERM INT
	# wait returns early when a trapped signal arrives; go on waiting
	# while the container runs.
	while :; do
		st=0
		wait "$pid" || st=$?
		[ -d "/proc/$pid" ] || break
	done
	rm -f "$dir/$name.pid"
	exit "$st" ;;
esac
exit 125
