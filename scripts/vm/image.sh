# shellcheck shell=bash
# Guest images for the VM harness: host tools, the guest kernel and initrd,
# the Debian root filesystems, and each guest's image (built here, or
# downloaded by cloud.sh). Sourced by vmtest.sh; every function is prefixed
# vm_ and writes only under $VM_CACHE.
#
# What is cached, and keyed by what:
#   kernel-<version>/  vmlinux + initrd.cpio, keyed by the Debian kernel package
#                      version and the hash of guest/init and this file.
#   rootfs-<hash>.img  an ext4 image of an mmdebstrap'ed Debian, keyed by the
#                      hash of its recipe: suite, mirror, package list,
#                      cloud-init or not, this file and the unit baked in.
#   cloud-<sum>-<name> a downloaded cloud image, keyed by its pinned sum.
# Why a vmlinux and not the bzImage: the uncompressed ELF boots through its PVH
# entry point and skips the BIOS, the fastest path under TCG (measured: 13 s
# to a finished test unit, against 19 s through the BIOS with the same small
# initrd and 33.5 s with Debian's own).

# vm_need_tools installs the host packages the harness uses when one of their
# commands is missing; a second run finds them all and installs nothing.
vm_need_tools() {
	local missing=() pair
	for pair in qemu-system-x86_64:qemu-system-x86 mmdebstrap:mmdebstrap \
		mkfs.ext4:e2fsprogs cpio:cpio xz:xz-utils depmod:kmod \
		modprobe:kmod timeout:coreutils mkfs.vfat:dosfstools mcopy:mtools \
		qemu-img:qemu-utils; do
		command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
	done
	# The initrd needs the static busybox: the dynamic one would need a libc.
	dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' ||
		missing+=(busybox-static)
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "vmtest: installing host tools: ${missing[*]}" >&2
	# Other jobs may hold the dpkg lock for a while: wait for it, do not fail.
	if ! apt-get -o DPkg::Lock::Timeout=600 update -q >&2 ||
		! apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}" >&2; then
		echo "vmtest: installing ${missing[*]} with apt-get failed; install them by hand" >&2
		return 1
	fi
}

# vm_images makes sure the guest kernel and each guest's image are in the
# cache, building or downloading what is missing at the same time (on a
# fresh machine, one mmdebstrap's downloads overlap another's unpacking),
# and sets VM_KERNEL and VM_IMAGE[guest] to them.
vm_images() {
	local name src kind pid pids=() f kernel=0
	declare -gA VM_IMAGE=()
	for name in $VM_GUESTS; do
		[ -n "${VM_SOURCE[$name]:-}" ] || { echo "vmtest: no guest $name in scripts/vm/guests (it has: ${!VM_SOURCE[*]})" >&2; return 1; }
		kind=$(vm_kind "$name") || return 1
		# The harness's kernel, unless every guest boots its own.
		[ "$kind" = cloud ] || kernel=1
	done
	# image.sh's functions check their steps themselves and say what failed,
	# as they did when they ran in command substitutions: without errexit
	# (xz, for one, exits 1 on the bytes after the kernel's stream).
	if [ "$kernel" = 1 ]; then
		(set +e; vm_kernel) >"$WORK/kernel" &
		pids+=($!)
	fi
	for name in $VM_GUESTS; do
		src=${VM_SOURCE[$name]}
		f=$(vm_image_file "$src")
		# One build or download per image, however many guests boot it.
		[ ! -e "$f" ] || continue
		case $src in
		debian:*) (set +e; vm_rootfs "${src#*:}" "${VM_EXTRA[${src#*:}]:-}") >"$f" & ;;
		debian-cloud:*) (set +e; vm_rootfs "${src#*:}" "${VM_EXTRA[${src#*:}]:+${VM_EXTRA[${src#*:}]},}cloud-init" cloud) >"$f" & ;;
		*) (set +e; vm_fetch "$src" "${VM_SUM[$name]}") >"$f" & ;;
		esac
		pids+=($!)
	done
	for pid in "${pids[@]}"; do
		wait "$pid" || { echo "vmtest: building the guest kernel or getting an image failed (above)" >&2; return 1; }
	done
	for f in "$WORK"/image-*; do
		[ -s "$f" ] || { echo "vmtest: no ${f##*/} was made (above: why)" >&2; return 1; }
	done
	[ "$kernel" = 0 ] || [ -s "$WORK/kernel" ] || { echo "vmtest: no guest kernel was made (above: why)" >&2; return 1; }
	# shellcheck disable=SC2034 # vmtest.sh reads VM_KERNEL and VM_IMAGE
	VM_KERNEL=$(cat "$WORK/kernel" 2>/dev/null || :)
	for name in $VM_GUESTS; do
		# shellcheck disable=SC2034
		VM_IMAGE[$name]=$(cat "$(vm_image_file "${VM_SOURCE[$name]}")")
	done
}

# vm_image_file SOURCE prints the file in $WORK that holds the path of the
# image SOURCE (a guests file IMAGE) once vm_images has it.
vm_image_file() {
	echo "$WORK/image-$(echo "$1" | sha256sum | cut -c1-12)"
}

# vm_mirror prints the URI of the Debian archive this machine's apt uses (the
# sources entry that carries the host's own codename), read from
# /etc/apt/sources.list and sources.list.d in both formats.
vm_mirror() {
	local codename
	codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk -v cn="$codename" '
		# one-line format: deb [opts] URI suite components
		/^[[:space:]]*deb[[:space:]]/ {
			i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
			if ($(i+1) == cn) { print $i; exit }
			next
		}
		# deb822 format: stanzas separated by blank lines
		/^[[:space:]]*$/ { if (uri != "" && hit) { print uri; exit } uri = ""; hit = 0; next }
		/^URIs:/ { uri = $2 }
		/^Suites:/ { for (j = 2; j <= NF; j++) if ($j == cn) hit = 1 }
		END { if (uri != "" && hit) print uri }' | head -n1
}

# vm_kernel makes sure $VM_CACHE/kernel-<ver>/{vmlinux,initrd.cpio} exist and
# prints that directory. The kernel is the host release's linux-image-amd64.
vm_kernel() {
	local pkg ver key dir tmp off m
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
	[ -n "$pkg" ] || { echo "vmtest: apt knows no linux-image-amd64; run apt-get update" >&2; return 1; }
	ver=$(apt-cache policy "$pkg" | awk '/Candidate:/{print $2}')
	key=$(cat "$VM_DIR/image.sh" "$VM_DIR/guest/init" | sha256sum | cut -c1-12)
	dir=$VM_CACHE/kernel-$ver-$key
	if [ -s "$dir/vmlinux" ] && [ -s "$dir/initrd.cpio" ]; then echo "$dir"; return 0; fi
	echo "vmtest: building guest kernel and initrd from $pkg $ver" >&2
	tmp=$(mktemp -d "$VM_CACHE/kernel.XXXXXX")
	# apt-get download runs as _apt, which must be able to write here.
	chmod 0755 "$tmp"
	(cd "$tmp" && apt-get download -q "$pkg=$ver" >&2) ||
		{ echo "vmtest: downloading $pkg $ver failed" >&2; rm -rf "$tmp"; return 1; }
	dpkg-deb -x "$tmp"/linux-image-*.deb "$tmp/pkg"
	local kver
	kver=$(ls "$tmp/pkg/lib/modules")
	# The bzImage holds the kernel xz-compressed after a setup stub: find the xz
	# magic and unpack from there (what the kernel's extract-vmlinux does).
	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$tmp/pkg/boot/vmlinuz-$kver" | head -n1 | cut -d: -f1)
	tail -c +$((off + 1)) "$tmp/pkg/boot/vmlinuz-$kver" | xz -dcq >"$tmp/vmlinux" 2>/dev/null
	# xz complains about the trailing bytes after the stream; the ELF must be whole.
	[ "$(head -c4 "$tmp/vmlinux" | od -An -c | tr -d ' ')" = '177ELF' ] ||
		{ echo "vmtest: no ELF vmlinux in $pkg" >&2; rm -rf "$tmp"; return 1; }
	depmod -b "$tmp/pkg" "$kver"
	mkdir -p "$tmp/initrd/bin" "$tmp/initrd/modules" "$tmp/initrd/proc" "$tmp/initrd/sys" \
		"$tmp/initrd/dev" "$tmp/initrd/newroot"
	cp /bin/busybox "$tmp/initrd/bin/busybox"
	cp "$VM_DIR/guest/init" "$tmp/initrd/init"
	chmod 0755 "$tmp/initrd/init"
	# Modules in dependency order, each once: virtio PCI and block for the
	# disks, ext4, and vfat with its code pages for a cloud guest's seed (the
	# root image has no modules of this kernel).
	for m in $(for mod in virtio_pci virtio_blk ext4 vfat nls_cp437 nls_ascii nls_utf8; do
		modprobe -d "$tmp/pkg" -S "$kver" --show-depends "$mod"; done |
		awk '$1 == "insmod" && !seen[$2]++ {print $2}'); do
		cp "$m" "$tmp/initrd/modules/"
		basename "$m" >>"$tmp/initrd/modules/order"
	done
	(cd "$tmp/initrd" && find . | cpio -o -H newc --quiet >"$tmp/initrd.cpio")
	mkdir -p "$dir"
	mv "$tmp/vmlinux" "$tmp/initrd.cpio" "$dir/"
	rm -rf "$tmp"
	echo "$dir"
}

# vm_rootfs SUITE EXTRA_PACKAGES [cloud] prints the path of a cached ext4
# image of a minimal Debian SUITE with systemd, building it when its recipe
# changed. With cloud, the unit that runs the rows is not baked in: the
# guest's cloud-init installs it from the seed (cloud.sh).
vm_rootfs() {
	local suite=$1 extra=$2 cloud=${3:-} mirror include key img tmp
	mirror=$(vm_mirror)
	[ -n "$mirror" ] || { echo "vmtest: no Debian mirror found in /etc/apt/sources.list*" >&2; return 1; }
	# gpg: the README's install blocks check the key's fingerprint with it.
	include=systemd-sysv,systemd,curl,gpg,jq,procps${extra:+,$extra}
	key=$(printf '%s\n' "$suite" "$mirror" "$include" "$cloud" |
		cat - "$VM_DIR/image.sh" "$VM_DIR/guest/vmtest-boot.service" | sha256sum | cut -c1-16)
	img=$VM_CACHE/rootfs-$suite-$key.img
	if [ -s "$img" ]; then echo "$img"; return 0; fi
	echo "vmtest: building the $suite guest image with mmdebstrap (recipe $key)" >&2
	tmp=$(mktemp -d "$VM_CACHE/rootfs-$suite.XXXXXX")
	# The mirror may serve a snapshot whose Release files are past Valid-Until.
	if ! mmdebstrap --quiet --variant=minbase --include="$include" \
		--aptopt='Acquire::Check-Valid-Until "false"' \
		"$suite" "$tmp/root" "deb $mirror $suite main" >"$tmp/mmdebstrap.log" 2>&1; then
		echo "vmtest: mmdebstrap $suite failed:" >&2
		tail -n 30 "$tmp/mmdebstrap.log" >&2
		rm -rf "$tmp"
		return 1
	fi
	vm_customize "$tmp/root" "$suite" "$cloud"
	# 2 GiB sparse: the packages, their data and the journal fit with room.
	if ! mkfs.ext4 -q -F -L vmroot -d "$tmp/root" "$tmp/rootfs.img" 2G >&2; then
		echo "vmtest: mkfs.ext4 of the $suite root failed" >&2
		rm -rf "$tmp"
		return 1
	fi
	mv "$tmp/rootfs.img" "$img"
	rm -rf "$tmp"
	echo "$img"
}

# vm_customize trims the guest's boot (masking these units took it from 13 s
# to about 10 s) and, unless the guest is a cloud one, installs the unit
# that runs the tests.
vm_customize() {
	local root=$1 suite=$2 cloud=$3 u
	echo "vmtest-$suite" >"$root/etc/hostname"
	for u in getty@.service serial-getty@.service console-getty.service \
		apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
		e2scrub_all.timer e2scrub_reap.service fstrim.timer man-db.timer \
		systemd-tmpfiles-clean.timer systemd-update-utmp.service \
		systemd-update-utmp-runlevel.service systemd-pstore.service \
		systemd-logind.service systemd-timesyncd.service getty-static.service; do
		ln -sf /dev/null "$root/etc/systemd/system/$u"
	done
	# The proxy row starts nginx and caddy itself; at boot they would only
	# cost time and fight over port 80.
	rm -f "$root/etc/systemd/system/multi-user.target.wants/nginx.service" \
		"$root/etc/systemd/system/multi-user.target.wants/caddy.service"
	if [ -z "$cloud" ]; then
		install -m 0644 "$VM_DIR/guest/vmtest-boot.service" "$root/etc/systemd/system/vmtest-boot.service"
		ln -sf /etc/systemd/system/vmtest-boot.service \
			"$root/etc/systemd/system/multi-user.target.wants/vmtest-boot.service"
	fi
	# A policy-rc.d left behind by the build would stop the package's postinst
	# from starting the service, and the install test would test nothing.
	rm -f "$root/usr/sbin/policy-rc.d"
	# No network in the guest: apt must not try to fetch lists.
	rm -f "$root"/etc/apt/sources.list "$root"/etc/apt/sources.list.d/*
}
