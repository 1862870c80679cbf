#!/bin/bash
# run.sh: the guest half of the VM test. vmtest-boot.service (baked into a
# built guest's image, installed by a cloud guest's cloud-init) runs it from
# the input disk once systemd has booted; the kernel command line (or a
# cloud guest's seed, vmtest-args) says what this boot runs:
#   vmtest.rows=DIR[,DIR...]  directories under rows/, run one after another
#   vmtest.tag=TAG            only their rows tagged TAG (unset: every row),
#                             and those whose "# guests: " line names NAME
#   vmtest.guest=NAME         the guest's name (vmtest.sh's): a row whose
#                             "# guests: " line does not name it is left out
#   vmtest.rows=shell         a kept guest booted by `vmtest.sh shell`: a
#                             root shell on the console, no rows
# A row is a file rows/DIR/NNN-ID.sh: the file name is its place and its id,
# its "# plan: " line its title, its "# tags: " line the sets it is in
# (always: it runs under STIGMER_VM_ONLY too; toolchain: the guests that
# only check a newer toolchain run it), its "# guests: " line, if any, the
# only guests that run it (where one is enough; a guest named there runs it
# whatever its tag). Each runs in its own bash
# under set -eu with a time limit, and reports itself (lib/row.sh). At the
# end the boot writes its id for the next boot's reboot row, says VMT END
# and reboots: QEMU runs with -no-reboot, so that ends this boot, and the
# host boots the next one on the same disk.
#
# On the host: `run.sh --plan ROLE PHASE [TAG [NAME]]` prints the rows of
# rows/ROLE-PHASE (those tagged TAG, if not empty; those the guest NAME
# runs, if given), "ID<tab>TITLE" a line: the rows the host expects results
# for, in order.
set -eu
export LC_ALL=C
GUEST=$(cd "${0%/*}" && pwd)
# A row still running after this many seconds is stopped and fails.
ROW_LIMIT=900

# header FILE KEY prints the value of the row's "# KEY: " line, read from
# the comment block it opens with.
header() {
	local line
	while IFS= read -r line; do
		case $line in
		"# $2: "*)
			echo "${line#"# $2: "}"
			return
			;;
		"#"*) ;;
		*) return ;;
		esac
	done <"$1"
}
tagged() { [[ " $(header "$1" tags) " == *" $2 "* ]]; }
# listed FILE TAG NAME: the row belongs in a listing for tag TAG and guest
# NAME (either may be empty: any). A guest its "# guests: " line names runs
# it whatever its tags; otherwise it must carry TAG and name no guests.
listed() {
	local only
	only=$(header "$1" guests)
	if [ -n "$3" ] && [[ " $only " == *" $3 "* ]]; then return 0; fi
	{ [ -z "$2" ] || tagged "$1" "$2"; } && { [ -z "$3" ] || [ -z "$only" ]; }
}
row_id() {
	local n=${1##*/}
	n=${n%.sh}
	echo "${n#*-}"
}

# row_files DIR [TAG [NAME]] prints the row files of rows/DIR in order
# (those tagged TAG or naming NAME, those the guest NAME runs).
row_files() {
	local f
	[ -d "$GUEST/rows/$1" ] || { echo "run.sh: no row directory rows/$1" >&2; return 1; }
	for f in "$GUEST/rows/$1"/[0-9][0-9][0-9]-*.sh; do
		if listed "$f" "${2:-}" "${3:-}"; then echo "$f"; fi
	done
}

plan() {
	local f title
	for f in $(row_files "$1-$2" "${3:-}" "${4:-}"); do
		title=$(header "$f" plan)
		[ -n "$title" ] || { echo "run.sh: ${f#"$GUEST"/} has no '# plan: ' line" >&2; return 1; }
		printf '%s\t%s\n' "$(row_id "$f")" "$title"
	done
}

if [ "${1:-}" = --plan ]; then
	plan "$2" "$3" "${4:-}" "${5:-}"
	exit
fi

# shellcheck source=lib/report.sh
. "$GUEST/lib/report.sh"
# shellcheck source=lib/poll.sh
. "$GUEST/lib/poll.sh"

# boot_words prints this boot's vmtest.* words: the kernel command line's,
# where vmtest.sh boots the guest with its own kernel, else the vmtest-args
# file of the NoCloud seed (a cloud guest's own bootloader reads no command
# line from the host; vmtest.sh writes a seed for each boot).
boot_words() {
	if grep -q 'vmtest\.rows=' /proc/cmdline; then
		cat /proc/cmdline
		return
	fi
	mkdir -p /run/vmtest-seed
	mountpoint -q /run/vmtest-seed || mount -o ro LABEL=CIDATA /run/vmtest-seed
	cat /run/vmtest-seed/vmtest-args
}

# word KEY prints the value of KEY= among the boot's words.
word() {
	local w
	for w in $BOOT_WORDS; do
		case $w in "$1="*) echo "${w#*=}" ;; esac
	done
}

# selected FILE ID: STIGMER_VM_ONLY on the host (ONLY in vmtest.env) names
# the rows to run, a developer's shortcut; rows tagged always run anyway,
# and those left out have no result, so the run fails and cannot pass for
# a whole one.
selected() {
	[ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $2 "* ]] || tagged "$1" always
}

# run_row FILE: the row in its own process; one that ended without
# reporting (killed, or over ROW_LIMIT) is reported here.
run_row() {
	local id rc=0
	id=$(row_id "$1")
	timeout --kill-after=10 "$ROW_LIMIT" bash "$1" || rc=$?
	case $rc in
	0 | 1) ;;
	124 | 137)
		out "VMT RESULT $id FAIL still running after its limit of $ROW_LIMIT s: stopped"
		failure_context "$id"
		;;
	*)
		out "VMT RESULT $id FAIL its process ended with status $rc without a result"
		failure_context "$id"
		;;
	esac
}

main() {
	local rows tag name dir f cloud="" setup=""
	BOOT_WORDS=$(boot_words)
	rows=$(word vmtest.rows)
	tag=$(word vmtest.tag)
	name=$(word vmtest.guest)
	if [ "$rows" = shell ]; then
		exec setsid -c bash -l </dev/ttyS0 >/dev/ttyS0 2>&1
	fi
	stty -F /dev/ttyS1 raw -echo
	exec 3>/dev/ttyS1
	# shellcheck source=/dev/null
	. "$GUEST/vmtest.env"
	# Waits for the boot to finish; "degraded" (a unit failed) exits 1, and
	# the rows then say what they find.
	systemctl is-system-running --wait >/dev/null 2>&1 || :
	# A cloud guest also says how cloud-init's setup ended: done, error, or
	# the first word of another status (unknown when none came).
	if command -v cloud-init >/dev/null; then
		setup=$(cloud-init status --long 2>&1)
		cloud=$(awk '$1 == "status:" {print $2; exit}' <<<"$setup")
		cloud=" cloud-init ${cloud:-unknown}"
	fi
	out "VMT BOOT $(now) systemd $(systemctl --version | awk 'NR == 1 {print $2}')$cloud"
	echo "vmtest: guest $name, rows $rows${tag:+ tagged $tag}, $(systemctl is-system-running) at uptime $(now); failed units: $(systemctl list-units --failed --plain --no-legend | awk '{print $1}' | tr '\n' ' ')"
	[ -z "$setup" ] || while IFS= read -r f; do echo "vmtest: $f"; done <<<"$setup"
	# Each row checks systemd's journal lines from where the one before ended
	# (the first from the boot's start: a unit file is read at boot too).
	export VMT_JOURNAL_FROM=0
	for dir in ${rows//,/ }; do
		for f in $(row_files "$dir" "$tag" "$name"); do
			selected "$f" "$(row_id "$f")" || continue
			run_row "$f"
			VMT_JOURNAL_FROM=$(now)
		done
	done
	mkdir -p /var/lib/vmtest
	cat /proc/sys/kernel/random/boot_id >/var/lib/vmtest/boot-id
	out "VMT END"
	systemctl reboot
}

main
