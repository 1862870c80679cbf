# shellcheck shell=bash disable=SC2034 # its variables are the rows'
# package.sh: package commands and what must hold around them: a fresh
# install, an upgrade that keeps the admin's edit and data, a removal.

# shellcheck source=probe.sh
. "$LIB/probe.sh"

# run_kept CMD...: run a command with no input, its output kept in PKG_LOG
# (attached to a failure report); sets RC to its exit status.
PKG_N=0
run_kept() {
	PKG_N=$((PKG_N + 1))
	PKG_LOG=$SCRATCH/pkg-$PKG_N.log
	log "$*"
	RC=0
	"$@" </dev/null >"$PKG_LOG" 2>&1 || RC=$?
	attach "$PKG_LOG"
}

# pkg CMD...: run a package command that must succeed (run_kept); returns
# its status, so that under set -e a failed one ends the row.
pkg() {
	run_kept "$@"
	[ "$RC" = 0 ] || fail "'$*' exited $RC"
	return "$RC"
}

# install_fresh VERSION CMD...: install, then enabled + active + ready within 30 s.
install_fresh() {
	local want=$1 t0 t1 tp ta tr id
	shift
	t0=$(now)
	pkg "$@" || return 1
	# The install's own length is emulation speed (dpkg and Perl under TCG);
	# the promise is about the service once the package is in.
	tp=$(since "$t0") t1=$(now)
	EVERY=0.5 wait_for 30 active || fail "not active 30 s after the install returned (is-active: $(systemctl is-active stigmer))"
	ta=$(since "$t1")
	wait_for 30 ready || fail "/readyz not 200 within 30 s more"
	tr=$(since "$t1")
	figure "install took ${tp} s; active ${ta} s and /readyz 200 ${tr} s after it returned"
	[ "$(systemctl is-enabled stigmer 2>&1)" = enabled ] || fail "is-enabled: $(systemctl is-enabled stigmer 2>&1)"
	check_running "$want"
	check_dirs
	[ "$(mode_owner "$ENVFILE")" = "600 root:root" ] || fail "$ENVFILE is '$(mode_owner "$ENVFILE")', want 600 root:root"
	# Lines of all three components reach the journal under the unit.
	for id in stigmer-server stigmer-workflow-runner stigmer-agent-runner; do
		wait_for 10 journaled "$id" ||
			fail "journalctl -u stigmer -t $id shows nothing"
	done
}

# set_data: an env-file edit (EDIT) and a data file (TOKEN in DATA), to be
# found after an upgrade or a reinstall.
set_data() {
	EDIT="VMTEST_EDIT=kept-$RANDOM"
	echo "$EDIT" >>"$ENVFILE"
	TOKEN=$RANDOM$RANDOM
	echo "$TOKEN" >"$DATA"
	chown stigmer:stigmer "$DATA"
}

# data_kept: yes or no, for the figures.
data_kept() {
	if grep -qx "$EDIT" "$ENVFILE" && [ "$(cat "$DATA" 2>/dev/null)" = "$TOKEN" ]; then echo yes; else echo no; fi
}

check_data_kept() {
	grep -qx "$EDIT" "$ENVFILE" || fail "the env file lost the edit $EDIT"
	[ "$(cat "$DATA" 2>/dev/null)" = "$TOKEN" ] || fail "$DATA lost or changed"
	# The older build ships another default: dpkg kept the edit (confold)
	# and put the new default beside it; rpm put it beside as .rpmnew.
	if [ "$ROLE" = deb ]; then
		dpkg-deb --fsys-tarfile "$IN/$NEW_DEB" | tar -xO ./etc/default/stigmer | cmp -s - "$ENVFILE.dpkg-dist" ||
			fail "$ENVFILE.dpkg-dist is not the new default (there: $(existing "$ENVFILE"*))"
	else
		check_rpmnew
	fi
}

# check_rpmnew: rpm -U over an edited env file whose default changed keeps
# the edit (check_data_kept) and puts the new default beside it.
check_rpmnew() {
	local want got
	want=$(rpm -q --qf '[%{FILENAMES} %{FILEDIGESTS}\n]' stigmer | awk -v f="$ENVFILE" '$1 == f {print $2}')
	got=$(sha256sum "$ENVFILE.rpmnew" 2>/dev/null | awk '{print $1}')
	if [ -z "$got" ]; then
		fail "no $ENVFILE.rpmnew beside the edited env file"
	elif [ "$got" != "$want" ]; then
		fail "$ENVFILE.rpmnew is not the new package's env file (sha256 $got, rpm says $want)"
	fi
}

# check_gone: after remove or erase: stopped, disabled, unit and binary gone,
# data (TOKEN in DATA) and user kept.
check_gone() {
	local f
	if active; then fail "still active"; fi
	[ -z "$(listen_ino)" ] || fail "a socket still listens on 7234 (inode $(listen_ino))"
	[ -z "$(pgrep -u stigmer)" ] || fail "processes of stigmer left: $(pgrep -a -u stigmer)"
	if [ "$ROLE" = deb ]; then
		# debhelper's way: masked, the enablement kept for a reinstall.
		[ "$(readlink /etc/systemd/system/stigmer.service)" = /dev/null ] || fail "not masked after remove"
		[ -L /etc/systemd/system/multi-user.target.wants/stigmer.service ] || fail "the enable link went on remove"
		[ "$(systemctl is-enabled stigmer 2>&1)" = masked ] || fail "is-enabled: $(systemctl is-enabled stigmer 2>&1), want masked"
	else
		if wants_link; then fail "enable symlinks left: $(find /etc/systemd/system -name stigmer.service)"; fi
		if systemctl cat stigmer >/dev/null 2>&1; then fail "systemd still knows stigmer.service"; fi
	fi
	for f in /lib/systemd/system/stigmer.service /usr/lib/systemd/system/stigmer.service /usr/bin/stigmer; do
		if [ -e "$f" ]; then fail "$f still there"; fi
	done
	[ "$(cat "$DATA" 2>/dev/null)" = "$TOKEN" ] || fail "$DATA was removed"
	getent passwd stigmer >/dev/null || fail "user stigmer removed"
}

# no_fd_store: the service is stopped (which empties the fd store) and will
# start without one, as releases before it did.
NO_FD_STORE=/etc/systemd/system/stigmer.service.d/vmtest-no-fd-store.conf
no_fd_store() {
	systemctl stop stigmer
	mkdir -p "${NO_FD_STORE%/*}"
	printf '[Service]\nFileDescriptorStoreMax=0\n' >"$NO_FD_STORE"
	systemctl daemon-reload
}

# The upgrade rows' command lines. On deb the setup is dpkg (a fresh install,
# or a downgrade); the upgrade itself is apt, as an operator runs it. The env
# file is edited and the older build ships another default, so both ask
# dpkg's conffile question; with no terminal (pkg's stdin is /dev/null) the
# README's options answer it: keep the edit, the new default as .dpkg-dist.
# On rpm the setup is a downgrade with rpm, the upgrade dnf.
DEB_SETUP_OLD="dpkg -i --force-confdef --force-confold $OLD_DEB"
DEB_UPGRADE_NEW="apt install -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold ./$NEW_DEB"
RPM_SETUP_OLD="rpm -U --oldpackage $OLD_RPM"
RPM_UPGRADE_NEW="dnf upgrade -y ./$NEW_RPM"

# The unit's path in the .deb, and in the older build's .deb: it moved out
# of the aliased /lib with the /usr merge (DEP17).
UNIT=/usr/lib/systemd/system/stigmer.service
OLDER_UNIT=/lib/systemd/system/stigmer.service

# deb_lists PATH: dpkg lists PATH among stigmer's files.
deb_lists() { dpkg -L stigmer 2>/dev/null | grep -qx "$1"; }

# check_unit_moved: after an upgrade of the .deb from the older build (the
# unit in /lib), the new unit is on disk at /usr/lib, dpkg lists it there
# and not at /lib, and systemd loads the new one (on a merged /usr both
# names are one file, which dpkg must not delete with the old name).
check_unit_moved() {
	local want
	want=$(dpkg-deb --fsys-tarfile "$IN/$NEW_DEB" | tar -xO ".$UNIT")
	[ -f "$UNIT" ] || { fail "$UNIT is gone after the upgrade"; return; }
	deb_lists "$UNIT" || fail "dpkg does not list $UNIT"
	if deb_lists "$OLDER_UNIT"; then fail "dpkg still lists $OLDER_UNIT"; fi
	[ "$(systemctl cat stigmer 2>/dev/null | tail -n +2)" = "$want" ] ||
		fail "systemctl cat stigmer is not the new unit: $(systemctl cat stigmer 2>&1 | head -n 1)"
	[ "$(prop NeedDaemonReload)" = no ] || fail "systemd wants a daemon-reload after the upgrade"
}

# upgrade_case STATE SETUP UPGRADE: SETUP puts the old build in (a fresh
# install or a downgrade), enabled and running; the admin then leaves it
# running, stopped or disabled (STATE), edits the env file and adds a data
# file; UPGRADE installs the new build. STATE, the edit and the data must hold.
# shellcheck disable=SC2086 # SETUP and UPGRADE are command lines, split on purpose
upgrade_case() {
	local state=$1 p0 t0
	PROBE=
	pkg $2
	# The running case starts as a release before the fd store did (a unit
	# without FileDescriptorStoreMax=): the upgrade's restart must find the
	# port free and the new server listen by itself (no EADDRINUSE). The
	# drop-in goes before the upgrade, whose daemon-reload drops it.
	[ "$state" != running ] || no_fd_store
	systemctl enable stigmer 2>/dev/null
	systemctl start stigmer
	wait_for 30 ready || fail "old build not ready within 30 s of its install"
	[ "$(version)" = "$OLD_VERSION" ] || fail "old build reports '$(version)', want $OLD_VERSION"
	if [ "$ROLE" = deb ] && ! deb_lists "$OLDER_UNIT"; then
		fail "the older build does not ship $OLDER_UNIT: the upgrade moves no unit"
	fi
	set_data
	case $state in
	stopped) systemctl stop stigmer ;;
	disabled) systemctl disable stigmer 2>/dev/null ;;
	esac
	p0=$(mainpid)
	t0=$(now)
	if [ "$state" = running ]; then
		rm -f "$NO_FD_STORE"
		prober "$SCRATCH/probes" pkg $3
		# Refusals are expected here (the old server had no fd store), and
		# so are resets of connections in its listener's queue when it
		# closes, before connect() returned (X) or after (reset); a
		# connection that was not reset must still be answered.
		[ "$PROBE_FAILED" = "$PROBE_RESET" ] || fail "failed probes across the upgrade: $PROBE"
	else
		pkg $3
	fi
	[ "$(version)" = "$NEW_VERSION" ] || fail "after the upgrade stigmer version is '$(version)', want $NEW_VERSION"
	[ "$ROLE" != deb ] || check_unit_moved
	check_data_kept
	case $state in
	running | disabled)
		wait_for 30 ready || fail "not ready within 30 s after the upgrade"
		[ "$(mainpid)" != "$p0" ] || fail "main PID $p0 not restarted onto the new binary"
		tr '\0' '\n' <"/proc/$(mainpid)/environ" | grep -qx "$EDIT" ||
			fail "the restarted server's environment lacks $EDIT"
		check_running "$NEW_VERSION"
		;;
	stopped)
		if EVERY=1 wait_for 5 listening; then fail "the API answers after the upgrade"; fi
		if active; then fail "started by the upgrade: $(systemctl is-active stigmer)"; fi
		;;
	esac
	local want=enabled
	[ "$state" != disabled ] || want=disabled
	[ "$(systemctl is-enabled stigmer 2>&1)" = "$want" ] || fail "is-enabled: $(systemctl is-enabled stigmer 2>&1), want $want"
	figure "$OLD_VERSION -> $(version) in $(since "$t0") s; $(systemctl is-active stigmer), $(systemctl is-enabled stigmer 2>&1); edit and data kept: $(data_kept)${PROBE:+; probes from an older build without the fd store: $PROBE}"
}

# unit_uids prints the UIDs the processes of stigmer.service run as, each
# once, space-separated.
unit_uids() {
	local p
	for p in $(unit_pids); do
		awk '/^Uid:/ {print $2}' "/proc/$p/status" 2>/dev/null
	done | sort -u | tr '\n' ' '
}

# uid_case INSTALL REMOVE: the user deleted by hand and UID 950 pinned in
# /etc/sysusers.d/stigmer.conf, INSTALL makes stigmer with that UID and the
# service runs as it. Then, the pin gone: a file of stigmer's outside the
# package's directories (a backup), REMOVE (purge, erase), another system
# user made meanwhile (it would get a freed UID) and INSTALL again: the
# service runs as the same UID, which still owns the file. Leaves nothing
# installed, and neither the users nor the pin.
# shellcheck disable=SC2086 # INSTALL and REMOVE are command lines, split on purpose
uid_case() {
	local pin=/etc/sysusers.d/stigmer.conf backup=/srv/vmtest-backup uids
	if getent passwd stigmer >/dev/null; then userdel stigmer; fi
	if getent group stigmer >/dev/null; then groupdel stigmer; fi
	mkdir -p "${pin%/*}"
	echo 'u stigmer 950 "Stigmer service user" /var/lib/stigmer' >"$pin"
	pkg $1
	wait_for 30 ready || fail "not ready within 30 s of the install"
	[ "$(id -u stigmer)" = 950 ] || fail "stigmer has UID $(id -u stigmer), not the 950 pinned in $pin"
	uids=$(unit_uids)
	[ "$uids" = "950 " ] || fail "the service runs as UIDs '$uids', want 950"
	rm "$pin"
	mkdir -p "$backup"
	echo old >"$backup/data"
	chown -R stigmer:stigmer "$backup"
	pkg $2
	useradd --system --no-create-home vmtest-other
	pkg $1
	wait_for 30 ready || fail "not ready within 30 s of the reinstall"
	uids=$(unit_uids)
	[ "$uids" = "950 " ] || fail "after $2 and a reinstall the service runs as UIDs '$uids', want 950"
	[ "$(stat -c %U "$backup/data")" = stigmer ] || fail "$backup/data is owned by $(stat -c %U "$backup/data") after the reinstall"
	figure "pinned 950: service as $uids; after $2, user vmtest-other ($(id -u vmtest-other)) and a reinstall: service as $(unit_uids), $backup/data owned by $(stat -c %U "$backup/data")"
	pkg $2
	userdel vmtest-other
	if getent passwd stigmer >/dev/null; then userdel stigmer; fi
	if getent group stigmer >/dev/null; then groupdel stigmer; fi
	rm -rf "$backup"
}

# preset_case INSTALL REMOVE WANT: with `disable *` in an admin's preset
# file that sorts before the package's, INSTALL leaves stigmer WANT
# (disabled: and stopped, with nothing on the port); then the README's
# `systemctl enable --now` starts it. Without the file, INSTALL enables and
# starts it. Leaves nothing installed and no preset file.
# shellcheck disable=SC2086 # INSTALL and REMOVE are command lines, split on purpose
preset_case() {
	local preset=/etc/systemd/system-preset/00-site.preset state
	mkdir -p "${preset%/*}"
	echo 'disable *' >"$preset"
	pkg $1
	state=$(systemctl is-enabled stigmer 2>&1) || :
	[ "$state" = "$3" ] || fail "with disable * the install left stigmer $state, want $3"
	if [ "$3" = disabled ]; then
		if active; then fail "started although the presets disable it"; fi
		if EVERY=1 wait_for 5 listening; then fail "the API answers although the presets disable it"; fi
		pkg systemctl enable --now stigmer
	fi
	wait_for 30 ready || fail "not ready within 30 s of systemctl enable --now"
	pkg $2
	rm "$preset"
	pkg $1
	wait_for 30 ready || fail "without an admin's preset: not ready within 30 s of the install"
	[ "$(systemctl is-enabled stigmer 2>&1)" = enabled ] || fail "without an admin's preset: $(systemctl is-enabled stigmer 2>&1)"
	figure "with disable *: $state, then enable --now: ready; without: $(systemctl is-enabled stigmer 2>&1), $(systemctl is-active stigmer)"
	pkg $2
}
