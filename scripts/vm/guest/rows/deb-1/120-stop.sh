#!/bin/bash
# plan: systemctl stop: nothing listens on 7234, stays inactive past RestartSec
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"

n0=$(prop NRestarts) p0=$(mainpid)
systemctl stop stigmer || fail "systemctl stop exited $?"
# Stop means stop: systemd closed the stored socket too, so a client is
# refused at once, not parked in a backlog that nobody serves.
if listening; then fail "a connection to 127.0.0.1:7234 was taken right after systemctl stop"; fi
[ -z "$(listen_ino)" ] || fail "a socket still listens on 7234 after systemctl stop (inode $(listen_ino))"
stays_down "$p0" "$n0"
figure "$(systemctl is-active stigmer) 13 s after the stop, NRestarts $n0 -> $(prop NRestarts)"
restart_service
