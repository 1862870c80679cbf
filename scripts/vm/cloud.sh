# shellcheck shell=bash
# The cloud path of the VM harness, sourced by vmtest.sh: a guest whose image
# knows nothing of the test. cloud-init reads a NoCloud seed (a vfat disk
# labelled CIDATA, made here for each boot) that installs the tools the rows
# use and the unit that runs them (guest/vmtest-boot.service, from the input
# disk), and carries the boot's vmtest.* words in vmtest-args, which
# guest/run.sh reads where no kernel command line brings them. A published
# image is downloaded once into $VM_CACHE and checked against the sha256
# scripts/vm/guests pins, before every run.

# vm_fetch URL SHA256 prints the path of the cached copy of the image at URL,
# downloading it when it is missing. An image whose sum is not SHA256 is
# refused and removed: a download cut short, a file changed on the server,
# or a cache tampered with.
vm_fetch() {
	local url=$1 sum=$2 file tmp got
	[[ $sum =~ ^[0-9a-f]{64}$ ]] ||
		{ echo "vmtest: the sha256 of $url in scripts/vm/guests is not 64 hex digits: '$sum'" >&2; return 1; }
	file=$VM_CACHE/cloud-${sum:0:16}-${url##*/}
	if [ ! -s "$file" ]; then
		echo "vmtest: downloading $url" >&2
		tmp=$(mktemp "$VM_CACHE/cloud.XXXXXX")
		if ! curl -fsSL --retry 3 -o "$tmp" "$url"; then
			rm -f "$tmp"
			echo "vmtest: downloading $url failed (the cloud guests need network)" >&2
			return 1
		fi
		mv "$tmp" "$file"
	fi
	got=$(sha256sum "$file" | cut -c1-64)
	if [ "$got" != "$sum" ]; then
		rm -f "$file"
		echo "vmtest: refused $url: its sha256 is $got, scripts/vm/guests pins $sum (removed from the cache; if the publisher replaced the image, pin the new one)" >&2
		return 1
	fi
	echo "$file"
}

# vm_cloud_tools prints the packages cloud-init installs for the rows, by the
# guest's package format: curl and jq for the probes and APIs, gpg for the
# README's key checks, procps for pgrep; on the RHEL family also perl (the
# probes; not in every cloud image there) and audit and policycoreutils for
# the SELinux check every row ends with.
vm_cloud_tools() {
	case $1 in
	deb) echo "curl gpg jq procps" ;;
	rpm) echo "curl gnupg2 jq procps-ng perl audit policycoreutils" ;;
	*) echo "vmtest: unknown package format '$1' in scripts/vm/guests (deb or rpm)" >&2; return 1 ;;
	esac
}

# vm_user_data FORMAT prints the seed's cloud-config. The runcmd runs once, at
# the first boot: it installs the unit from the input disk (the second disk,
# /dev/vdb, where the unit mounts it from) and starts it without waiting, as
# cloud-init's own final stage is part of the boot the unit waits for; a
# later boot starts it because it is enabled.
vm_user_data() {
	local tools
	tools=$(vm_cloud_tools "$1") || return 1
	cat <<-EOF
		#cloud-config
		# The stigmer VM test's seed (scripts/vm/cloud.sh).
		# C.UTF-8 is in every image; the rows run under LC_ALL=C.
		locale: C.UTF-8
		# The distributions' own package jobs would hold the package lock
		# while a row installs.
		bootcmd:
		  - for u in apt-daily.timer apt-daily-upgrade.timer unattended-upgrades.service dnf-makecache.timer; do systemctl disable --now "\$u" 2>/dev/null || :; done
		package_update: true
		packages: [${tools// /, }]
		runcmd:
		  - mkdir -p /run/vmtest-unit
		  - mount -o ro /dev/vdb /run/vmtest-unit
		  - install -m 0644 /run/vmtest-unit/vmtest-boot.service /etc/systemd/system/vmtest-boot.service
		  - umount /run/vmtest-unit
		  - systemctl daemon-reload
		  - systemctl enable vmtest-boot.service
		  - systemctl start --no-block vmtest-boot.service
	EOF
}

# vm_seed FILE NAME FORMAT ARGS writes the NoCloud seed of one boot of the
# guest NAME to FILE: meta-data (the instance, the same at every boot, so
# that cloud-init sets the guest up once), user-data and vmtest-args.
vm_seed() {
	local seed=$1 name=$2 format=$3 args=$4 dir
	dir=$(mktemp -d "$WORK/seed.XXXXXX")
	printf 'instance-id: vmtest-%s\nlocal-hostname: vmtest-%s\n' "$name" "$name" >"$dir/meta-data"
	vm_user_data "$format" >"$dir/user-data" || return 1
	echo "$args" >"$dir/vmtest-args"
	rm -f "$seed"
	mkfs.vfat -n CIDATA -C "$seed" 1024 >/dev/null
	mcopy -i "$seed" "$dir/meta-data" "$dir/user-data" "$dir/vmtest-args" ::
	rm -rf "$dir"
}

# vm_setup_unfinished RESULTS: prints the status of a cloud guest's
# cloud-init setup, from its boot line in RESULTS, when it is anything but
# done (error, or running: the rows start once the boot settled, by when
# the setup has ended). Nothing for a guest without cloud-init.
vm_setup_unfinished() {
	awk '$1 == "VMT" && $2 == "BOOT" && $6 == "cloud-init" && $7 != "done" {print $7}' "$1"
}
