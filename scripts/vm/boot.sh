# shellcheck shell=bash
# How a guest boots, sourced by vmtest.sh: the guests and their images
# (scripts/vm/guests), and the QEMU command line of a boot.

# vm_read_guests reads scripts/vm/guests (its comment says what each column
# is) into VM_SOURCE, VM_SUM, VM_FORMAT, VM_BOOTS (boots space-separated)
# and VM_TAG (empty for every row), by guest name.
vm_read_guests() {
	declare -gA VM_SOURCE=() VM_SUM=() VM_FORMAT=() VM_BOOTS=() VM_TAG=()
	local name image sum format boots tag extra
	while read -r name image sum format boots tag extra; do
		case $name in "" | "#"*) continue ;; esac
		if [ -z "$tag" ] || [ -n "$extra" ]; then
			echo "vmtest: scripts/vm/guests: the line of $name wants six fields" >&2
			return 1
		fi
		# shellcheck disable=SC2034 # vmtest.sh reads them
		VM_SOURCE[$name]=$image VM_SUM[$name]=$sum VM_FORMAT[$name]=$format
		# shellcheck disable=SC2034
		VM_BOOTS[$name]=${boots//|/ } VM_TAG[$name]=${tag#-}
	done <"$VM_DIR/guests"
}

# vm_kind NAME prints how the guest boots: built (a Debian image built here,
# the harness's kernel, the rows named on its command line), seeded (the
# same with cloud-init: the cloud path with the harness's kernel) or cloud
# (a downloaded image, its own bootloader and kernel).
vm_kind() {
	case ${VM_SOURCE[$1]} in
	debian:*) echo built ;;
	debian-cloud:*) echo seeded ;;
	https://*) echo cloud ;;
	*) echo "vmtest: guest $1: unknown image '${VM_SOURCE[$1]}' in scripts/vm/guests" >&2; return 1 ;;
	esac
}

# vm_machine sets VM_MACHINE to the QEMU command line every guest shares:
# under KVM where the host has it (a CPU with vmx or svm and /dev/kvm to
# write; STIGMER_VM_ACCEL=tcg or kvm decides otherwise), else TCG.
vm_machine() {
	local accel=${STIGMER_VM_ACCEL:-}
	if [ -z "$accel" ]; then
		accel=tcg
		if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then accel=kvm; fi
	fi
	VM_MACHINE=(qemu-system-x86_64 -nodefaults -no-user-config -display none -no-reboot -M pc -smp "$VM_SMP")
	if [ "$accel" = kvm ]; then
		VM_MACHINE+=(-accel kvm -cpu host)
	else
		VM_MACHINE+=(-accel "tcg,thread=multi" -cpu "$VM_CPU")
	fi
}

# vm_boot_args DIR ROWS sets VM_ARGS to the QEMU command line of a boot of
# the guest whose work dir is DIR (named by it) that runs the row
# directories ROWS (shell: a root shell on the console). A built guest is
# told what to run on its kernel command line, the others by their seed.
vm_boot_args() {
	local dir=$1 name=${1##*/} kind words words_on_cmdline=""
	kind=$(vm_kind "$name") || return 1
	words="vmtest.rows=$2 vmtest.guest=$name${VM_TAG[$name]:+ vmtest.tag=${VM_TAG[$name]}}"
	[ "$kind" != built ] || words_on_cmdline=$words
	VM_ARGS=("${VM_MACHINE[@]}")
	case $kind in
	built | seeded) VM_ARGS+=(-m 1024 -kernel "$VM_KERNEL/vmlinux" -initrd "$VM_KERNEL/initrd.cpio"
		-append "$VM_APPEND${words_on_cmdline:+ $words_on_cmdline}"
		-drive "file=$dir/disk.img,if=virtio,format=raw,cache=unsafe") ;;
	# A published image gets the rows' tools from its distribution's mirrors.
	cloud) VM_ARGS+=(-m 2048 -drive "file=$dir/disk.img,if=virtio,format=qcow2,cache=unsafe"
		-nic "user,model=virtio-net-pci") ;;
	esac
	# The input disk is the second, /dev/vdb, in every guest.
	VM_ARGS+=(-drive "file=${dir%/*}/in.img,if=virtio,format=raw,readonly=on")
	if [ "$kind" != built ]; then
		vm_seed "$dir/seed.img" "$name" "${VM_FORMAT[$name]}" "$words" || return 1
		VM_ARGS+=(-drive "file=$dir/seed.img,if=virtio,format=raw")
	fi
}

# vm_plan ROWS NAME [TAG] prints the rows a boot of the guest NAME running the
# row directories ROWS (those tagged TAG) expects, "ID<tab>TITLE" a line, in
# order.
vm_plan() {
	local dir
	for dir in ${1//,/ }; do
		bash "$VM_DIR/guest/run.sh" --plan "${dir%-*}" "${dir##*-}" "${3:-}" "$2"
	done
}
