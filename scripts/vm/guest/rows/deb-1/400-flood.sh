#!/bin/bash
# plan: 60 s flood as nobody (900 connections: half send a request's headers, never its body; half idle after a request), WatchdogSec=30: same main PID, NRestarts and runners, no failed health check, root's curl /readyz answered, no new event
# guests: deb13
#
# A local user holds more connections than the API allows for twice the
# watchdog's period. The health check runs in the server, the runners talk
# over the service's own socket and the listener shares its slots, so the
# watchdog is fed, no runner is killed as hung and root is answered. One
# guest is enough: what is tested is the server's (the same binary and unit
# everywhere); systemd's part, the kill when the pings stop, is the watchdog
# row's on every guest.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"

N=900 SECS=60
# flood: as nobody, N connections to the API; every other one sends the
# headers of a POST with a 4000-byte body that never comes, the rest a whole
# GET and then nothing, staying open between requests. One the server closes
# is opened again at once. Prints "full S" once N are open (S: seconds it
# took), then "MADE CUT PEAK FAILED" after SECS more: connections made,
# closed by the server, most open at once, connects that failed.
#
# Why both: the server cuts a request whose body does not come after 5 s
# (ReadTimeout), so headers alone must be sent faster than the cap every 5 s
# to keep the server at its cap. A guest that shares its core with others
# does not get there: with three busy loops beside it the flood held its 900
# and the server never reached its cap. A connection idle between requests
# stays for 30 s (IdleTimeout), so the idle half keeps the server at its cap
# at any speed, and the other half keeps requests in progress.
flood() {
	# shellcheck disable=SC2016 # perl's
	runuser -u nobody -- perl -MIO::Socket::INET -MIO::Select -e '
		$| = 1;
		my ($n, $secs) = @ARGV;
		my $post = "POST /api/v1/runners/heartbeat HTTP/1.1\r\nHost: 127.0.0.1:7234\r\n"
			. "Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n";
		my $get = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:7234\r\n\r\n";
		my $sel = IO::Select->new;
		my ($made, $cut, $peak, $failed) = (0, 0, 0, 0);
		my $open = sub {
			my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => 7234, Proto => "tcp", Timeout => 5);
			if (!$s) { $failed++; return 0 }
			syswrite($s, $made % 2 ? $get : $post);
			$sel->add($s);
			$made++;
			$peak = $sel->count if $sel->count > $peak;
			return 1;
		};
		my $t0 = time;
		while ($sel->count < $n && time < $t0 + 60) { $open->() or last }
		print "full ", time - $t0, "\n";
		my $end = time + $secs;
		while (time < $end) {
			for my $s ($sel->can_read(1)) {
				my $buf;
				next if sysread($s, $buf, 4096);
				$sel->remove($s);
				close $s;
				$cut++;
			}
			while ($sel->count < $n && time < $end) { $open->() or last }
		}
		print "$made $cut $peak $failed\n";
	' "$N" "$SECS"
}
# full: the flood holds its N connections.
full() {
	local line
	read -r line <"$SCRATCH/flood.out" 2>/dev/null && [[ $line == full* ]]
}

[ "$(prop WatchdogUSec)" = 30s ] || fail "WatchdogSec is $(prop WatchdogUSec), the package's is 30s"
p0=$(mainpid) n0=$(prop NRestarts)
runner_read workflow-runner || fail "GET /api/v1/status lists no workflow-runner"
w0="$RUNNER_PID $RUNNER_RESTARTS"
runner_read agent-runner || fail "GET /api/v1/status lists no agent-runner"
a0="$RUNNER_PID $RUNNER_RESTARTS"
epoch=$(date +%s)
since0=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
flood >"$SCRATCH/flood.out" 2>"$SCRATCH/flood.err" &
fl=$!
attach "$SCRATCH/flood.err"
wait_for 60 full || fail "the flood did not open its $N connections within 60 s"

# Root asks as an operator would, every 3 s while the flood lasts.
asked=0 answered=0 longest=0 codes=""
while kill -0 "$fl" 2>/dev/null; do
	asked=$((asked + 1))
	got=$(curl -sS -o /dev/null -w '%{http_code} %{time_total}' --max-time 20 http://127.0.0.1:7234/readyz 2>&1) || :
	if [ "${got%% *}" = 200 ]; then answered=$((answered + 1)); else codes="$codes [$got]"; fi
	t=${got##* }
	if [[ $t =~ ^[0-9.]+$ ]] && ! ge "$longest" "$t"; then longest=$t; fi
	nap 3
done
wait "$fl" || fail "the flood exited $?: $(tail -n 3 "$SCRATCH/flood.err" | tr '\n' ' ')"
read -r _ took <"$SCRATCH/flood.out" || took=-
made=- cut=0 peak=0 failed=-
{ read -r _ && read -r made cut peak failed; } <"$SCRATCH/flood.out" || fail "the flood printed no counts"

# The flood was one: N open at once, the server at its cap, closing some.
[ "$peak" = "$N" ] || fail "the flood held at most $peak connections, want $N"
[ "$cut" -gt 0 ] || fail "the server closed none of the flood's connections"
[ "$(journal_count 'the API is at its connection cap' --since "@$epoch")" -gt 0 ] ||
	fail "the server never said it was at its connection cap"
[ "$asked" -ge 6 ] || fail "only $asked curl /readyz during the flood"
[ "$answered" = "$asked" ] || fail "root's curl /readyz answered 200 $answered of $asked times:$codes"
active || fail "not active after the flood: $(systemctl is-active stigmer)"
[ "$(mainpid)" = "$p0" ] || fail "main PID $p0 -> $(mainpid)"
[ "$(prop NRestarts)" = "$n0" ] || fail "NRestarts $n0 -> $(prop NRestarts)"
hc=$(journal_count 'health check failed' --since "@$epoch")
[ "$hc" = 0 ] || fail "the health check failed $hc times during the flood (no watchdog ping)"
runner_read workflow-runner || fail "no workflow-runner after the flood"
[ "$RUNNER_PID $RUNNER_RESTARTS" = "$w0" ] || fail "workflow-runner (PID restarts) $w0 -> $RUNNER_PID $RUNNER_RESTARTS"
runner_read agent-runner || fail "no agent-runner after the flood"
[ "$RUNNER_PID $RUNNER_RESTARTS" = "$a0" ] || fail "agent-runner (PID restarts) $a0 -> $RUNNER_PID $RUNNER_RESTARTS"
ev=$(/usr/bin/stigmer events --json --since "$since0") || fail "stigmer events exited $?"
new=$(jq '.events | length' <<<"$ev") || new=-
[ "$new" = 0 ] || fail "stigmer events shows $new new events: $(jq -c '[.events[] | {kind, reason}]' <<<"$ev")"
figure "$N held for $SECS s (full after $took s): $made connections, $cut closed by the server, $failed connects failed; curl /readyz 200 $answered of $asked (longest $longest s); main PID, NRestarts $n0, runners unchanged; health check failed $hc; new events $new"
