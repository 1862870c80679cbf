# shellcheck shell=bash disable=SC2034 # its variables are the rows'
# row.sh: the frame of a row, sourced first by every file under rows/ (which
# run.sh runs one by one, each in its own bash under set -eu). The row is
# named by its file, rows/<role>-<phase>/NNN-<id>.sh; the frame reports its
# result when the row's process exits: PASS unless the row called fail, a
# command failed under set -e (the frame names the command and its line), or
# systemd logged a line about stigmer.service that says unknown, deprecated
# or ignoring (a directive or setting this systemd does not take as the unit
# means it; the packages' unit check covers systemd 239 on paper, this the
# guests' systemd for real), or, where SELinux enforces, the kernel denied
# anything naming stigmer.
#
# What a row may use, besides poll.sh and service.sh:
#   ROW      its id           ROLE     deb or rpm, from its directory
#   IN       the input disk: the packages, probe.pl, the repository trees
#   NEW_DEB NEW_RPM OLD_DEB OLD_RPM (paths in IN), NEW_VERSION OLD_VERSION
#            and STANDIN_RPM, from IN/vmtest.env (vmtest.sh writes it)
#   ENVFILE  the package's env file     DATA  a file the rows keep data in
#   STATE    /var/lib/vmtest: files a row leaves for a later one, each named
#            in both rows (so that the hand-over is explicit)
#   SCRATCH  /var/tmp/vmtest/<id>: the row's own files (its stderr too)
# and fail, figure, attach below. The working directory is IN.

LIB=$(cd "${BASH_SOURCE[0]%/*}" && pwd)
# shellcheck source=report.sh
. "$LIB/report.sh"
# shellcheck source=poll.sh
. "$LIB/poll.sh"
# shellcheck source=service.sh
. "$LIB/service.sh"
# shellcheck source=selinux.sh
. "$LIB/selinux.sh"

IN=/run/vmtest-in
# shellcheck source=/dev/null
. "$IN/vmtest.env"
ROW=${0##*/}
ROW=${ROW%.sh}
ROW=${ROW#*-}
ROLE=${0%/*}
ROLE=${ROLE##*/}
ROLE=${ROLE%-*}
if [ "$ROLE" = rpm ]; then ENVFILE=/etc/sysconfig/stigmer; else ENVFILE=/etc/default/stigmer; fi
DATA=/var/lib/stigmer/vmtest-data
STATE=/var/lib/vmtest
SCRATCH=/var/tmp/vmtest/$ROW
mkdir -p "$STATE" "$SCRATCH"
# The row's stderr goes with its report: bash's own complaints (an unset
# variable under set -u) trigger no ERR trap.
exec 2>>"$SCRATCH/stderr"
export DEBIAN_FRONTEND=noninteractive LC_ALL=C
cd "$IN" || exit 1

log() { echo "vmtest[$ROW]: $*"; }
# fail REASON: a failed check; the row goes on with its other checks.
fail() {
	FAILS+=("$*")
	log "FAIL: $*"
}
# figure TEXT: what the row measured, shown on its result line.
figure() { FIG="$*"; }
# attach FILE: FILE's tail goes with the report of a failure.
attach() { ATTACH+=("$1"); }
FAILS=() FIG="" ATTACH=()

# journal_warnings fails the row on each line systemd logged in this boot
# since VMT_JOURNAL_FROM (the uptime at which the row before ended; run.sh
# sets it) about stigmer.service that says unknown, deprecated or ignoring
# (the journal of an earlier boot is on disk too: -b leaves it out). Both
# systemd's own lines and those it wrote to the kernel log before journald
# ran (at boot) carry the identifier systemd.
journal_warnings() {
	local line
	while IFS= read -r line; do
		fail "systemd logged: $line"
	done < <(journalctl -b -t systemd -q --no-pager -o short-monotonic --no-hostname 2>/dev/null |
		awk -v from="${VMT_JOURNAL_FROM:-0}" '{t = $0; sub(/^\[ */, "", t); sub(/\].*/, "", t)}
			t + 0 >= from && /stigmer\.service/ && tolower($0) ~ /unknown|deprecated|ignoring/')
}

# row_end RC reports the row (RC: the status its script exited with) and
# exits 0 on PASS, 1 on FAIL.
row_end() {
	local rc=$1 f
	set +e
	[ "$rc" = 0 ] || fail "the row stopped: ${ROW_ERR:-its script exited $rc: $(tail -n 1 "$SCRATCH/stderr")}"
	journal_warnings
	while IFS= read -r f; do fail "SELinux denied: $f"; done < <(selinux_denials "$ROW_DATE")
	FIG="${FIG:+$FIG }[row $(since "$ROW_T0") s]"
	if [ ${#FAILS[@]} -eq 0 ]; then
		out "VMT RESULT $ROW PASS $FIG"
		log "PASS $FIG"
		exit 0
	fi
	out "VMT RESULT $ROW FAIL $FIG"
	for f in "${FAILS[@]}"; do out "VMT WHY $ROW $f"; done
	[ ! -s "$SCRATCH/stderr" ] || attach "$SCRATCH/stderr"
	failure_context "$ROW" "${ATTACH[@]}"
	exit 1
}

# An unexpected failure names itself (errtrace: in functions too).
set -E
trap 'ROW_ERR="line $LINENO of ${BASH_SOURCE[0]##*/} exited $? (its last command: $BASH_COMMAND)"' ERR
trap 'row_end $?' EXIT
ROW_T0=$(now)
# When the row began, as ausearch -ts takes it (under LC_ALL=C).
ROW_DATE=$(date '+%m/%d/%Y %H:%M:%S')
log "start"
