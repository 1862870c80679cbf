# shellcheck shell=bash
# poll.sh: clocks and waits without forking. Every process started in the
# guest costs CPU that the emulated machine lacks (a fork of a small tool
# takes tens of milliseconds under TCG), so the rows poll at 2-4 Hz and time
# with shell builtins.

# tick sets T to the uptime in centiseconds.
tick() {
	read -r T _ </proc/uptime
	T=${T/./}
	T=$((10#$T))
}

# nap SECONDS sleeps without a process: a read that times out on a pipe
# nobody writes to.
exec {NAPFD}<> <(:)
nap() { read -r -t "$1" -u "$NAPFD" _ || :; }

# now prints the uptime in seconds (two decimals); since T0 prints the
# seconds from T0 (a value of now) to now.
now() {
	tick
	printf '%d.%02d\n' $((T / 100)) $((T % 100))
}
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }

# ge A B: the number A is at least B (decimals allowed).
ge() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a >= b)}'; }

# wait_for SECONDS CMD...: run CMD every $EVERY s (default 0.25) until it
# succeeds; returns 1 once SECONDS have passed without.
wait_for() {
	local limit=$(($1 * 100)) start
	shift
	tick
	start=$T
	until "$@"; do
		tick
		[ $((T - start)) -le "$limit" ] || return 1
		nap "${EVERY:-0.25}"
	done
}
