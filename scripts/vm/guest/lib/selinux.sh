# shellcheck shell=bash
# selinux.sh: the SELinux check every row ends with (row.sh sources it).

# selinux_denials SINCE prints, one a line (at most 20), the SELinux denials
# naming stigmer since SINCE ("MM/DD/YYYY HH:MM:SS", the row's start), where
# SELinux enforces (the RHEL-family cloud guests, with the targeted policy):
# the unit's sandbox, its StateDirectory= and the package's files must work
# under the policy as shipped. The audit log has them where auditd runs
# (ausearch), the journal where it does not. Prints nothing where SELinux
# is off or absent (the Debian guests). SELINUX_ENFORCE names the file that
# says whether it enforces.
selinux_denials() {
	local day=${1% *} time=${1#* }
	[ "$(cat "${SELINUX_ENFORCE:-/sys/fs/selinux/enforce}" 2>/dev/null)" = 1 ] || return 0
	{
		if command -v ausearch >/dev/null; then
			ausearch -m AVC,USER_AVC,SELINUX_ERR -ts "$day" "$time" 2>/dev/null
		else
			journalctl -q --no-pager --since "${day:6:4}-${day:0:2}-${day:3:2} $time" 2>/dev/null
		fi
	} | grep -E 'avc: +denied|SELINUX_ERR' | grep -i stigmer | head -n 20 || :
}
