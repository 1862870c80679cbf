# shellcheck shell=bash
# report.sh: the lines the host reads, on file descriptor 3 (run.sh opens it
# on the guest's second serial port, ttyS1; by hand, 3>&1 shows them):
#   VMT BOOT <uptime s> systemd <version>[ cloud-init <status>]
#                                           once booted (run.sh)
#   VMT RESULT <row> PASS|FAIL <figures>    one per row
#   VMT WHY <row> <reason>                  each failed check of a row
#   VMT LOG <row> <line>                    what a failed row leaves to read
#   VMT END                                 the boot ran all its rows (run.sh)

out() { printf '%s\n' "$*" >&3; }

# failure_context ROW [FILE...] sends, as VMT LOG lines of ROW, the unit's
# status, its journal and the tail of each FILE (a package command's output).
failure_context() {
	local row=$1 f
	shift
	{
		echo "--- systemctl status stigmer"
		systemctl status stigmer --no-pager -l -n 0 2>&1
		echo "--- journalctl -u stigmer (last 80, monotonic)"
		journalctl -u stigmer --no-pager -q -o short-monotonic -n 80 2>&1
		for f in "$@"; do
			echo "--- $f"
			tail -n 40 "$f" 2>&1
		done
	} | sed "s/^/VMT LOG $row /" >&3
}
