#!/bin/bash
# plan: new /readyz connection every 50 ms across kill -9 and systemctl restart, every 0.2 s across a reinstall: none refused, same socket
#
# The fd store keeps the socket while systemd restarts the server by itself
# (kill -9 here; SIGSEGV and the watchdog in their rows) and while a restart
# job runs: systemctl restart, and the try-restart of a package upgrade (a
# reinstall of the same .deb runs the same postinst path).
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"

# backlog_case NAME ACTION...: probes across ACTION (prober); none may be
# refused, and the socket listening afterwards must be the one from before.
# With ANSWER_ALL=1 (a stop, not a kill) none may fail either: a kill loses
# the connections the dead server had accepted. Appends "NAME: figures" to
# PROBES.
PROBES=""
backlog_case() {
	local name=$1 ino0 ino1
	shift
	ino0=$(listen_ino)
	prober "$SCRATCH/probes-$name" "$@"
	ino1=$(listen_ino)
	# shellcheck disable=SC2153 # PROBE is prober's
	PROBES="${PROBES:+$PROBES; }$name: $PROBE"
	[ "$PROBE_REFUSED" = 0 ] || fail "$name: $PROBE"
	[ -z "${ANSWER_ALL:-}" ] || [ "$PROBE_FAILED" = 0 ] || fail "$name: failed probes: $PROBE"
	if [ -z "$ino0" ] || [ "$ino1" != "$ino0" ]; then
		fail "$name: the listening socket changed (inode '$ino0' -> '$ino1'): systemd did not keep it"
	fi
}

backlog_case kill-9 kill_main KILL 60
ANSWER_ALL=1 backlog_case restart systemctl restart stigmer
# Across the reinstall a probe every 0.2 s: they run across the whole
# transaction, and each is a process dpkg waits behind (every 0.05 s, 2358
# probes kept the reinstall going for two minutes, where an apt upgrade of
# the same package takes 35 s while the service is stopped).
ANSWER_ALL=1 PROBE_EVERY=0.2 backlog_case reinstall pkg apt-get install --reinstall -y "./$NEW_DEB"
figure "$PROBES"
