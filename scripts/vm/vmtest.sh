#!/usr/bin/env bash
# vmtest.sh: the host half of the VM test (README.md beside it). Boots the
# guests scripts/vm/guests lists under QEMU (TCG, or KVM where the host has
# it), feeds them the packages and the rows on a second disk, lets
# guest/run.sh run the rows inside,
# reads the results back from the guest's second serial port and prints a
# table. Exits 1 when a row failed.
#
# Usage: scripts/vm/vmtest.sh [-k] [-o OUT] [-g GUESTS] [-s STANDIN_RPM] [-r REPOS] [-a FAKE_SINKS] NEW_DIST OLD_DIST
#   NEW_DIST  dir with the current stigmer_<v>_amd64.deb and stigmer-<v>*.x86_64.rpm
#   OLD_DIST  dir with an older build of both, the upgrade's starting point
#   -k        keep the work dir (disks, serial logs) and print how to get a
#             shell in a kept guest: scripts/vm/vmtest.sh shell DIR
#   -o        also write the report and the guests' logs into OUT
#   -g        guests to run (scripts/vm/guests), space separated (default:
#             "deb12-cloud deb11 rpm12 deb13")
#   -s        the stand-in rpm that provides what the stigmer rpm requires
#             (stigmer-test-standin-rhel-base, from go tool mage vmtest);
#             needed by the rpm guest
#   -r        the signed repository trees and README blocks the guests
#             install from (dist/.vmrepo/trees, from go tool mage vmtest)
#   -a        the fake-alert-sinks binary (a webhook receiver and SMTP relay
#             that record, scripts/vm/fake-alert-sinks) for the alerts row
# Environment: STIGMER_VM_CACHE (default ~/.cache/stigmer/vm) holds the guest
# kernel, initrd and root images, rebuilt only when their recipe changes, and
# the downloaded cloud images. STIGMER_VM_ACCEL=tcg or kvm overrides the
# choice of accelerator.
# STIGMER_VM_ONLY="row row ..." runs only those rows (and the install rows):
# a developer's shortcut; the rows left out fail for want of a result.
#
# Channels: ttyS0 is the console (kept as console-<boot>.log, shown on a
# failure), ttyS1 carries the "VMT ..." lines of the rows (guest/lib/report.sh).
set -euo pipefail

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_CACHE=${STIGMER_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/stigmer/vm}
# shellcheck source=image.sh
. "$VM_DIR/image.sh"

# The guests, their images and the rows each boot runs: scripts/vm/guests
# (vm_read_guests). The rpm guest is Debian 12 with Debian's rpm and dnf,
# where RHEL images cannot be downloaded; deb13 is the newest toolchain
# Debian has (systemd 257, apt 3.0, dpkg 1.22, rpm 4.20, dnf 4.23).
# shellcheck source=boot.sh
. "$VM_DIR/boot.sh"
# shellcheck source=cloud.sh
. "$VM_DIR/cloud.sh"
# Extra packages of a suite's image: rpm and dnf where a guest runs the rpm
# rows, and the proxy row's nginx, caddy and openssl where the rpm guest
# runs it (one image per suite serves all its guests).
declare -A VM_EXTRA=([bookworm]="rpm,dnf,nginx,caddy,openssl" [trixie]="rpm,dnf")
# Guests at a time: all four, one vCPU each (VM_SMP), so that two cores run
# four vCPU threads. More vCPUs than cores only starve each other (measured:
# five guests of two vCPUs at once took six times as long). Further guests
# wait, in the order given, for one to end.
VM_PARALLEL=${STIGMER_VM_PARALLEL:-4}
# Seconds: at most VM_TIMEOUT per boot, and every boot ends by VM_BUDGET after
# the first one started, so that a hung guest fails its rows but the whole
# matrix still ends inside CI's 90 minutes with the other suites. The matrix
# is bound by the two cores (the guests' CPU time summed, halved), and the
# same rows have taken half as long again on one run as on another: the
# limits leave room for a slower machine, so that slow rows do not turn into
# failures.
VM_TIMEOUT=${STIGMER_VM_TIMEOUT:-2400}
VM_BUDGET=${STIGMER_VM_BUDGET:-3600}
# vCPUs per guest. One: TCG runs each vCPU as a host thread, and with more
# threads than cores a vCPU waiting on another (a TLB shootdown, a lock
# holder) spins while the other is not scheduled. Measured with three guests
# at once doing the same package work: one vCPU each took about a fifth less
# CPU and wall time than two.
VM_SMP=${STIGMER_VM_SMP:-1}
# The emulated CPU model: qemu64, the x86-64 baseline the Debian guests are
# built for, leaves TCG less to emulate than max: glibc and Go take their
# SSE2 routines instead of AVX2 ones, and the kernel saves a smaller register
# state at each context switch. Measured with two deb13 guests at once
# running the same rows: qemu64 took 6 to 9% less CPU than max.
# STIGMER_VM_CPU takes another model, for a comparison.
VM_CPU=${STIGMER_VM_CPU:-qemu64}
# The kernel command line of a guest booted with the harness's kernel.
VM_APPEND="console=ttyS0 panic=-1 quiet loglevel=1 mitigations=off systemd.show_status=false"

vm_usage() {
	sed -n '9,33p' "$0" >&2
	exit 2
}

# vm_qemu DIR BOOT ROWS runs boot number BOOT of the guest whose work dir is
# DIR, which runs the row directories ROWS, under `timeout`, and returns
# QEMU's status (124: the guest hung).
vm_qemu() {
	local dir=$1 boot=$2 limit
	limit=$((VM_DEADLINE - $(date +%s)))
	[ "$limit" -le "$VM_TIMEOUT" ] || limit=$VM_TIMEOUT
	[ "$limit" -ge 30 ] || limit=30
	echo "$limit" >"$dir/limit-$boot"
	vm_boot_args "$dir" "$3" || return 1
	timeout --kill-after=10 "$limit" "${VM_ARGS[@]}" \
		-serial "file:$dir/console-$boot.log" -serial "file:$dir/results-$boot.log" \
		</dev/null >"$dir/qemu-$boot.log" 2>&1
}

# vm_guest NAME runs every boot of one guest, one after the other, on a fresh
# copy of its cached image. Writes DIR/NAME/{status,elapsed,cpu}-BOOT, and
# DIR/NAME/span: when the guest started and ended, in seconds of the run.
vm_guest() {
	local name=$1 dir=$WORK/$1 boot=0 rows t0 rc start
	start=$(date +%s)
	mkdir -p "$dir"
	if [ "$(vm_kind "$name")" = cloud ]; then
		# An overlay: the downloaded image stays as it is in the cache.
		qemu-img create -q -f qcow2 -F qcow2 -b "${VM_IMAGE[$name]}" "$dir/disk.img" 12G
	else
		cp --sparse=always "${VM_IMAGE[$name]}" "$dir/disk.img"
	fi
	for rows in ${VM_BOOTS[$name]}; do
		boot=$((boot + 1))
		t0=$(date +%s.%N)
		rc=0
		# QEMU's CPU time (user+sys) says how much of the two cores a boot took.
		TIMEFORMAT='%U %S'
		{ time vm_qemu "$dir" "$boot" "$rows" || rc=$?; } 2>"$dir/time-$boot"
		echo "$rc" >"$dir/status-$boot"
		echo "$(date +%s.%N) $t0" | awk '{printf "%.1f\n", $1 - $2}' >"$dir/elapsed-$boot"
		awk '{printf "%.0f\n", $1 + $2}' "$dir/time-$boot" >"$dir/cpu-$boot"
		# A guest that hung or crashed cannot go on to its next boot.
		grep -q '^VMT END' <(tr -d '\r' <"$dir/results-$boot.log") || break
	done
	echo "$((start - VM_T0)) $(($(date +%s) - VM_T0))" >"$dir/span"
}

# vm_inputs NEW_DIST OLD_DIST [STANDIN_RPM] [REPOS] [FAKE_SINKS] builds
# $WORK/in.img: the guest's scripts and rows, the four packages, the
# stand-in rpm, the repository trees and vmtest.env with the versions their
# binaries print.
vm_inputs() {
	local new=$1 old=$2 standin=${3:-} repos=${4:-} fakes=${5:-} in=$WORK/in f
	mkdir -p "$in"
	cp -r "$VM_DIR/guest/run.sh" "$VM_DIR/guest/probe.pl" "$VM_DIR/guest/lib" "$VM_DIR/guest/rows" \
		"$VM_DIR/guest/vmtest-boot.service" "$in/"
	if [ -n "$fakes" ]; then
		cp "$fakes" "$in/fake-alert-sinks"
	else
		echo "vmtest: no -a FAKE_SINKS: the alerts row will fail; run go tool mage vmtest, which builds it" >&2
	fi
	if [ -n "$repos" ]; then
		cp -a "$repos" "$in/repo"
	else
		echo "vmtest: no -r REPOS: the repository rows will fail; run go tool mage vmtest, which builds them" >&2
	fi
	if [ -n "$standin" ]; then
		cp "$standin" "$in/"
	else
		for f in $VM_GUESTS; do
			if [[ ${VM_BOOTS[$f]} == *rpm-* ]]; then
				echo "vmtest: the rpm rows of $f need -s STANDIN_RPM; run go tool mage vmtest, which builds it" >&2
				return 1
			fi
		done
	fi
	for f in "$new"/stigmer_*_amd64.deb "$new"/stigmer-*.x86_64.rpm "$old"/stigmer_*_amd64.deb "$old"/stigmer-*.x86_64.rpm; do
		[ -f "$f" ] || { echo "vmtest: no $(basename "$f") in $(dirname "$f"); run go tool mage package" >&2; return 1; }
	done
	for f in "$new" "$old"; do
		[ "$(find "$f" -maxdepth 1 \( -name 'stigmer_*_amd64.deb' -o -name 'stigmer-*.x86_64.rpm' \) | wc -l)" = 2 ] ||
			{ echo "vmtest: more than one version of the packages in $f; run go tool mage clean package" >&2; return 1; }
	done
	cp "$new"/stigmer_*_amd64.deb "$new"/stigmer-*.x86_64.rpm "$in/"
	mkdir -p "$in/old"
	cp "$old"/stigmer_*_amd64.deb "$old"/stigmer-*.x86_64.rpm "$in/old/"
	{
		echo "NEW_DEB=$(basename "$new"/stigmer_*_amd64.deb)"
		echo "NEW_RPM=$(basename "$new"/stigmer-*.x86_64.rpm)"
		echo "OLD_DEB=old/$(basename "$old"/stigmer_*_amd64.deb)"
		echo "OLD_RPM=old/$(basename "$old"/stigmer-*.x86_64.rpm)"
		# What `stigmer version` must print after installing each: read from the
		# packaged binary itself, so the guest proves which build runs.
		echo "NEW_VERSION=$(vm_pkg_version "$new"/stigmer_*_amd64.deb)"
		echo "OLD_VERSION=$(vm_pkg_version "$old"/stigmer_*_amd64.deb)"
		[ -z "$standin" ] || echo "STANDIN_RPM=$(basename "$standin")"
		[ -z "${STIGMER_VM_ONLY:-}" ] || echo "ONLY=\"$STIGMER_VM_ONLY\""
	} >"$in/vmtest.env"
	# shellcheck source=/dev/null
	. "$in/vmtest.env"
	if [ "$NEW_VERSION" = "$OLD_VERSION" ]; then
		echo "vmtest: old and new packages are the same version ($NEW_VERSION)" >&2
		return 1
	fi
	mkfs.ext4 -q -F -L vmtest-in -d "$in" "$WORK/in.img" 256M >/dev/null
}

# vm_pkg_version DEB prints the version the .deb's /usr/bin/stigmer reports.
vm_pkg_version() {
	local x
	x=$(mktemp -d "$WORK/ver.XXXXXX")
	dpkg-deb -x "$1" "$x"
	"$x/usr/bin/stigmer" version | awk 'NR == 1 {print $2}'
	rm -rf "$x"
}

# vm_report prints the results table (rows in plan order), the boot times, and
# for every failed row its reasons, the guest's journal lines and, for a guest
# that never finished, the tail of its console. Returns 1 on any failure.
vm_report() {
	local name boot bootrows res id title st fig failed=0 rc el cpu booted setup nrows from to rows=() details=()
	for name in $VM_GUESTS; do
		boot=0 nrows=0
		for bootrows in ${VM_BOOTS[$name]}; do
			boot=$((boot + 1))
			res=$WORK/$name/results-$boot.log
			if [ -f "$res" ]; then tr -d '\r' <"$res" >"$res.txt"; else : >"$res.txt"; fi
			rc=$(cat "$WORK/$name/status-$boot" 2>/dev/null || echo "not run")
			el=$(cat "$WORK/$name/elapsed-$boot" 2>/dev/null || echo "-")
			cpu=$(cat "$WORK/$name/cpu-$boot" 2>/dev/null || echo "-")
			booted=$(awk '$1 == "VMT" && $2 == "BOOT" {s = $3 " s (" $4 " " $5; if (NF > 5) s = s ", " $6 " " $7; print s ")"}' "$res.txt")
			setup=$(vm_setup_unfinished "$res.txt")
			if [ -n "$setup" ]; then
				failed=1
				details+=("==== $name boot $boot: cloud-init's setup is '$setup', not done (cloud-init status --long, from the console):"
					"$(grep -a -A8 'vmtest: status:' "$WORK/$name/console-$boot.log" | tr -d '\r')")
			fi
			VM_BOOT_LINES+=("$(printf '%-11s boot %s  booted in %s; whole run %s s wall, %s s CPU; qemu exit %s' \
				"$name" "$boot" "${booted:-never}" "$el" "$cpu" "$rc")")
			while IFS=$'\t' read -r id title; do
				st=$(awk -v id="$id" '$1 == "VMT" && $2 == "RESULT" && $3 == id {print $4; exit}' "$res.txt")
				fig=$(awk -v id="$id" '$1 == "VMT" && $2 == "RESULT" && $3 == id {$1 = $2 = $3 = $4 = ""; sub(/^ +/, ""); print; exit}' "$res.txt")
				if [ -z "$st" ]; then
					st=FAIL
					if [ "$rc" = 124 ]; then fig="guest hung: no result within its $(cat "$WORK/$name/limit-$boot") s timeout"
					else fig="no result (qemu exit $rc)"; fi
				fi
				rows+=("$(printf '%-11s %-20s %-4s %s' "$name" "$id" "$st" "$title: $fig")")
				nrows=$((nrows + 1))
				if [ "$st" != PASS ]; then
					failed=1
					details+=("==== $name $id: $title" "$(awk -v id="$id" '$1 == "VMT" && ($2 == "WHY" || $2 == "LOG") && $3 == id {$1 = $3 = ""; sub(/^ +/, ""); print}' "$res.txt")")
					if ! grep -q '^VMT END' "$res.txt"; then
						details+=("-- console of $name boot $boot (last 60 lines; $WORK/$name/console-$boot.log):"
							"$(tail -n 60 "$WORK/$name/console-$boot.log" 2>/dev/null | tr -d '\r')")
					fi
				fi
			done < <(vm_plan "$bootrows" "$name" "${VM_TAG[$name]:-}")
		done
		{ read -r from to <"$WORK/$name/span"; } 2>/dev/null || from=0 to=0
		VM_GUEST_LINES+=("$(printf '%-11s %2d rows in %4d s (from %d s to %d s of the run)' "$name" "$nrows" $((to - from)) "$from" "$to")")
	done
	if [ ${#details[@]} -gt 0 ]; then
		printf '%s\n' "" "Failures:" "${details[@]}"
	fi
	printf '\n%-11s %-20s %-4s %s\n' GUEST ROW RES "WHAT: MEASURED"
	printf '%s\n' "${rows[@]}"
	printf '\n'
	printf '%s\n' "${VM_BOOT_LINES[@]}" "" "${VM_GUEST_LINES[@]}"
	return "$failed"
}

# vm_shell DIR/GUEST boots a guest kept with -k with a root shell on the
# console instead of its rows.
vm_shell() {
	local dir=${1:?usage: vmtest.sh shell DIR/GUEST}
	dir=$(cd "$dir" && pwd)
	WORK=${dir%/*}
	VM_KERNEL=$(cat "$WORK/kernel")
	vm_read_guests
	vm_machine
	vm_boot_args "$dir" shell
	echo "vmtest: shell on the guest's console; 'poweroff' leaves" >&2
	timeout 3600 "${VM_ARGS[@]}" -serial mon:stdio -serial null
}

main() {
	if [ "${1:-}" = shell ]; then
		shift
		vm_shell "$@"
		return
	fi
	local keep=0 opt standin="" repos="" fakes="" out=""
	VM_GUESTS="deb12-cloud deb11 rpm12 deb13"
	while getopts ko:g:s:r:a: opt; do
		case $opt in
		k) keep=1 ;;
		o) out=$OPTARG ;;
		g) VM_GUESTS=$OPTARG ;;
		s) standin=$(realpath "$OPTARG") ;;
		r) repos=$(realpath "$OPTARG") ;;
		a) fakes=$(realpath "$OPTARG") ;;
		*) vm_usage ;;
		esac
	done
	shift $((OPTIND - 1))
	[ $# -eq 2 ] || vm_usage
	local new old t0 name
	new=$(cd "$1" && pwd)
	old=$(cd "$2" && pwd)
	t0=$(date +%s)
	VM_BOOT_LINES=() VM_GUEST_LINES=()

	vm_read_guests
	vm_machine
	vm_need_tools
	mkdir -p "$VM_CACHE"
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/stigmer-vmtest.XXXXXX")
	# shellcheck disable=SC2064
	trap "vm_cleanup $keep" EXIT

	# One builder at a time per cache: a second vmtest waits here.
	exec 9>"$VM_CACHE/.lock"
	flock 9
	local ti
	ti=$(date +%s)
	vm_images
	flock -u 9
	echo "vmtest: images ready in $(($(date +%s) - ti)) s: kernel ${VM_KERNEL##*/}, $(for s in "${!VM_IMAGE[@]}"; do basename "${VM_IMAGE[$s]}"; done | tr '\n' ' ')" >&2

	vm_inputs "$new" "$old" "$standin" "$repos" "$fakes"
	# shellcheck source=/dev/null
	. "$WORK/in/vmtest.env"
	echo "vmtest: upgrade $OLD_VERSION -> $NEW_VERSION; guests: $VM_GUESTS; work dir $WORK" >&2
	VM_T0=$(date +%s)
	VM_DEADLINE=$((VM_T0 + VM_BUDGET))
	local running=0
	for name in $VM_GUESTS; do
		if [ "$running" -ge "$VM_PARALLEL" ]; then
			# A guest's own status says nothing: its results do.
			wait -n || :
			running=$((running - 1))
		fi
		vm_guest "$name" &
		running=$((running + 1))
	done
	wait
	local status=0
	vm_report >"$WORK/report.txt" || status=$?
	echo "total $(($(date +%s) - t0)) s" >>"$WORK/report.txt"
	cat "$WORK/report.txt"
	[ -z "$out" ] || vm_save "$out"
	return "$status"
}

# vm_save OUT puts what the run leaves to read into OUT, replacing what was
# there: report.txt (the table, the failures with their journals) and each
# guest's serial logs and QEMU's own output, per boot.
vm_save() {
	local name
	rm -rf "$1"
	mkdir -p "$1"
	cp "$WORK/report.txt" "$1/"
	for name in $VM_GUESTS; do
		mkdir -p "$1/$name"
		cp "$WORK/$name"/console-*.log "$WORK/$name"/results-*.log.txt "$WORK/$name"/qemu-*.log "$1/$name/" 2>/dev/null || :
	done
	echo "vmtest: the report and the guests' logs are in $1" >&2
}

# vm_cleanup KEEP removes the work dir unless -k was given.
vm_cleanup() {
	if [ "$1" = 1 ]; then
		echo "vmtest: kept $WORK; a shell in a guest: $0 shell $WORK/<guest>" >&2
	else
		rm -rf "$WORK"
	fi
}

main "$@"
