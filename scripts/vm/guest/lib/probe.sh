# shellcheck shell=bash disable=SC2034 # its variables are the rows'
# probe.sh: clients that knock on the API across a restart, for the rows
# that promise no connection is refused (the fd store keeps the socket).

# prober FILE ACTION...: probe.pl opens a new connection to /readyz every
# $PROBE_EVERY s (default 0.05) from 2 s before ACTION until 5 s after
# /readyz is 200 again; sets PROBE to "refused R[ (X reset at connect)],
# failed F (+START/WAIT/HOW ...), longest W s of N", PROBE_REFUSED (R + X:
# the connections a listener never handed to a server), PROBE_FAILED and,
# of those, PROBE_RESET (reset before the status line). A
# failed probe shows when it connected (s after the action started), how
# long it waited and how it failed (probe.pl says the kinds).
prober() {
	local file=$1 stop=$1.stop pid up rc=0 lines
	shift
	rm -f "$file" "$stop" "$file.n"
	# Up to 30 s of probes are open at once, each a descriptor of the one
	# process: 600 at the default rate, within the soft limit of 1024;
	# more room for a faster PROBE_EVERY.
	(
		ulimit -Sn 4096 2>/dev/null || :
		exec perl "$IN/probe.pl" "$file" "${PROBE_EVERY:-0.05}" "$stop" >"$file.n"
	) &
	pid=$!
	nap 2
	log "probing across: $*"
	read -r up _ </proc/uptime
	echo "T $up" >>"$file"
	# A failing ACTION has said so (fail); the probes still count.
	"$@" || rc=$?
	log "probing: $* returned $rc"
	nap 1
	wait_for 60 ready || fail "/readyz not 200 within 60 s of: $*"
	nap 5
	: >"$stop"
	# Every probe ends within its 30 s connect and 30 s read timeouts.
	if ! wait_for 70 test -s "$file.n"; then
		fail "probe.pl still running 70 s after its last probe started"
		kill "$pid"
	fi
	wait "$pid" || fail "probe.pl exited $?"
	# One pass: the counts, the number of probe lines, then the text.
	read -r PROBE_REFUSED PROBE_FAILED PROBE_RESET lines PROBE < <(awk -v started="$(cat "$file.n")" '$1 == "T" {t = $2; next} {n++} $1 == "R" {r++} $1 == "X" {x++}
		$1 == "F" {f++; fl = fl sprintf(" %+.2f/%.2f/%s", $2 - t, $3 - $2, $4)} $1 == "F" && $4 == "reset" {rs++}
		$1 != "R" && $1 != "X" && $3 - $2 > w {w = $3 - $2}
		END {printf "%d %d %d %d ", r + x, f, rs, n
			printf "refused %d%s, failed %d%s, longest %.1f s of %d", r, (x ? sprintf(" (%d reset at connect)", x) : ""), f, (fl == "" ? "" : " (" substr(fl, 2) ")"), w, n
			if (n != started) printf " (%d started!)", started
			print ""}' "$file")
	[ "$(cat "$file.n")" = "$lines" ] || fail "probes started and lines written differ: $PROBE"
}
