#!/bin/bash
# plan: the shipped stigmer-backup.service/.timer: a backup while the server runs (0600, --check sound); apt purge keeps it; reinstall; restore refused while running, then restored (stigmer:stigmer 0600, the replaced history kept): the events are back, no restart counted
# guests: deb13
#
# An operator's disaster drill, on one guest (one is enough: nothing here
# depends on the systemd release): the nightly backup as the examples
# install it, then the data directory lost to a purge, a reinstall, and
# the README's restore. Runs after the other deb-2 rows (the new build from
# the repository, running); leaves it installed and running on the restored
# history, the timer disabled.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"

EX=/usr/share/doc/stigmer/examples
BACKUPS=/var/lib/stigmer-backup
# events: the history as `stigmer events --json` lists it, one event a line
# as "SEQ KIND TIME".
events() { /usr/bin/stigmer events --json | jq -r '.events[] | "\(.seq) \(.kind) \(.time)"'; }
restarts() { /usr/bin/stigmer server status --json | jq -r '.components[] | select(.name == "server") | .restarts'; }

cp "$EX/stigmer-backup.service" "$EX/stigmer-backup.timer" /etc/systemd/system/
systemctl daemon-reload
systemctl enable --now stigmer-backup.timer 2>/dev/null
systemctl is-active --quiet stigmer-backup.timer || fail "stigmer-backup.timer is $(systemctl is-active stigmer-backup.timer)"
systemctl start stigmer-backup.service || fail "systemctl start stigmer-backup.service failed: $(systemctl status stigmer-backup.service --no-pager -n 5 2>&1 | tail -n 5 | tr '\n' ';')"
before=$(events) r0=$(restarts)
shopt -s nullglob
files=("$BACKUPS"/history-*.db)
[ ${#files[@]} = 1 ] || fail "${#files[@]} backups in $BACKUPS, want 1: ${files[*]}"
file=${files[0]:-$BACKUPS/none}
journalctl -u stigmer-backup.service -q --no-pager -o cat | grep -qF "wrote $file (mode 0600), copied by the server at /run/stigmer/stigmer.sock" ||
	fail "the backup service's journal does not say the server copied it: $(journalctl -u stigmer-backup.service -o cat --no-pager | tail -n 3 | tr '\n' ';')"
[ "$(mode_owner "$file")" = "600 root:root" ] || fail "$file is $(mode_owner "$file"), want 600 root:root"
check=$(/usr/bin/stigmer restore --check "$file" 2>&1) || fail "restore --check: $check"
n=$(grep -c . <<<"$before")
grep -qE "^Events +$n kept, from " <<<"$check" || fail "restore --check does not say $n events: $(tr '\n' ';' <<<"$check")"

pkg apt-get purge -y stigmer
[ ! -e /var/lib/stigmer ] || fail "/var/lib/stigmer still there after the purge"
[ -s "$file" ] || fail "the purge took the backup $file"
install_fresh "$NEW_VERSION" apt install -y "./$NEW_DEB"
fresh=$(sha256sum /var/lib/stigmer/history.db)

# While the service runs: refused, saying what to stop; nothing changed.
RC=0
out=$(/usr/bin/stigmer restore "$file" 2>&1) || RC=$?
[ "$RC" = 1 ] || fail "restore while the service runs exited $RC"
[[ $out == *"stigmer.service is active and uses /var/lib/stigmer: stop it first (sudo systemctl stop stigmer)"* ]] || fail "restore while running: $out"
[ "$(sha256sum /var/lib/stigmer/history.db)" = "$fresh" ] || fail "the refused restore changed history.db"

systemctl stop stigmer
replaced=$(sha256sum </var/lib/stigmer/history.db) # the stop added its events
out=$(/usr/bin/stigmer restore "$file" 2>&1) || fail "restore with the service stopped: $out"
[ "$(mode_owner /var/lib/stigmer/history.db)" = "600 stigmer:stigmer" ] || fail "the restored history is $(mode_owner /var/lib/stigmer/history.db)"
aside=(/var/lib/stigmer/history.db.before-restore-*)
[ ${#aside[@]} = 1 ] || fail "${#aside[@]} files history.db.before-restore-* kept, want 1"
[ "$(sha256sum <"${aside[0]:-/dev/null}")" = "$replaced" ] || fail "the history kept aside is not the one replaced"
restart_service

after=$(events)
[ "$(head -n "$n" <<<"$after")" = "$before" ] || fail "the restored events differ from those backed up: $(diff <(echo "$before") <(head -n "$n" <<<"$after") | head -n 4 | tr '\n' ';')"
kinds=$(tail -n +"$((n + 1))" <<<"$after" | awk '{print $2}' | head -n 2 | tr '\n' ' ')
[ "$kinds" = "history-restored server-start " ] || fail "after the restored events: '$kinds', want history-restored server-start"
[ "$(restarts)" = "$r0" ] || fail "the server's restarts went $r0 -> $(restarts) across the restore"
systemctl disable --now stigmer-backup.timer 2>/dev/null
figure "backup by the timer's service while running: $n events, $(stat -c %s "$file") bytes; after purge+reinstall+restore: the $n events back, then $kinds; restarts $r0 -> $(restarts)"
