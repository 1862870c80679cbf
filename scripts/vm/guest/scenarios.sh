#!/bin/bash
# scenarios.sh: the guest half of the VM lifecycle test (issue 4).
#
# In the guest: vmtest-boot.service runs it from the input disk
# (/run/vmtest-in, with the packages and vmtest.env) once systemd has booted.
# It reads vmtest.role= (deb or rpm) and vmtest.phase= (1, 2 or shell) from the
# kernel command line, runs that phase's scenarios and writes one line per
# scenario to ttyS1, which the host reads:
#   VMT BOOT <uptime s> systemd <version>   once booted
#   VMT RESULT <id> PASS|FAIL <figure>      one per scenario
#   VMT WHY <id> <reason>                   each failed check
#   VMT LOG <id> <line>                     journal of a failed scenario
#   VMT END                                 the phase ran to its end
# then reboots (phase 1 of deb: the reboot scenario is phase 2) or powers off.
#
# On the host: `bash scenarios.sh --plan ROLE PHASE` prints the scenario ids
# and titles of that phase, tab separated: the rows the host expects.
set -u

vm_plan() {
	case "$1:$2" in
	deb:1) cat <<-'EOF' ;;
		install	apt install ./stigmer_<v>_amd64.deb: enabled, active, 3 procs as stigmer, dirs, /readyz, journal, version
		runners	runner kill -9, 3x each: same main PID, runner back, restarts shown
		segv-runner	SIGSEGV to the workflow runner: its trace under -t stigmer-workflow-runner, not -t stigmer-server
		kill9	kill -9 main PID: new PID after RestartSec, NRestarts +1, /readyz 200 again
		backlog	new /readyz connection every 50 ms across kill -9, systemctl restart, a reinstall: none refused, same socket
		startline	journal start line +1 in this systemd's form; the guide's grep count
		listen-change	STIGMER_LISTEN moved + systemctl restart: exit 78 (kept socket differs), then start serves the new port
		segv	SIGSEGV to main PID: restarted; probes every 50 ms: none refused
		watchdog	SIGSTOP main PID: watchdog kills, systemd restarts; probes every 0.2 s: none refused
		oom	kernel OOM kill of main PID (sysrq f): restarted
		oom-runner	kernel OOM kill of a runner: unit stays, runner back
		stop	systemctl stop: nothing listens on 7234, stays inactive past RestartSec
		term	kill -TERM main PID: exit 0, stays inactive
		hup	kill -HUP main PID (dies by the signal): restarted
		timeout	start timeout (TimeoutStartSec=5s, agent runner stand-in held): restarted, up once let go
		doctor	stigmer doctor: exit 0 as root and as nobody (says what it cannot read); env mode, bad env line, data and log dir owners, binary mode, disabled, user namespaces off, image without docker, stop, taken port, masked, full disk, no user each FAIL with the fix; API beyond loopback and a kill -9 (restarts, last crash) WARN; exit 0 once restored; time of a run
		security	systemd-analyze security stigmer: exposure figure (<= 1.2 on systemd 252)
		events	history of the rows above: history.db 0600 stigmer, stigmer events (API, file when stopped; both refused to nobody), server restarts in status and /metrics
		alerts	fake webhook+SMTP on loopback: kill -9 one alert (unit, result, log lines), again held back then summed up, 5 runner kills one, clean stop none
		EOF
	deb:2) cat <<-'EOF' ;;
		reboot	reboot: service comes up by itself
		remove	apt remove: stopped, masked, unit+binary gone; data, env, user, enablement kept
		reinstall	apt install after remove: unmasked, enabled, active, env edit kept
		purge	apt purge: nothing of stigmer on disk, user and group kept with their IDs
		upgrade	apt upgrade old (no fd store)->new while running, env file edited and changed: edit kept, .dpkg-dist, data kept; probes
		upgrade-stopped	apt upgrade while stopped: still stopped, still enabled
		upgrade-disabled	apt upgrade while disabled: still disabled, running new
		apt-repo-install	the README's apt block (keyring, .sources, Signed-By) on the old tree: enabled, active, /readyz
		apt-repo-refuse	apt-get update+upgrade refused, nothing changed: tampered Packages (hash), another key (NO_PUBKEY)
		apt-repo-upgrade	the README's apt-get upgrade from the new tree: new version, one restart, env edit and data kept, both versions listed
		EOF
	rpm:1) cat <<-'EOF' ;;
		rpm-install	dnf install ./stigmer-<v>.x86_64.rpm (after the RHEL base stand-in): enabled, active, /readyz, user, dirs, rpm -V
		rpm-kill9	kill -9 main PID: new PID after RestartSec, NRestarts +1
		rpm-upgrade	dnf upgrade ./new.rpm while running: new version, env edit and data kept, new default as .rpmnew
		rpm-upgrade-stopped	dnf upgrade while stopped: still stopped, still enabled
		rpm-upgrade-disabled	dnf upgrade while disabled: still disabled, running new
		rpm-erase	dnf remove: stopped, disabled, unit+binary+license dir gone; data and user kept
		dnf-repo-install	the README's dnf block (key, .repo with gpgcheck+repo_gpgcheck) on the old tree: enabled, active, /readyz
		dnf-repo-refuse	dnf upgrade refused, nothing changed: tampered rpm (gpgcheck), unsigned repomd.xml, another key
		dnf-repo-upgrade	the README's dnf upgrade from the new tree: new version, one restart, env edit and data kept, .rpmnew, both versions listed
		EOF
	*) return 1 ;;
	esac
}

if [ "${1:-}" = --plan ]; then
	vm_plan "$2" "$3"
	exit
fi

IN=/run/vmtest-in
# shellcheck source=/dev/null
. "$IN/vmtest.env"
ROLE=$(sed -n 's/.*vmtest\.role=\([^ ]*\).*/\1/p' /proc/cmdline)
PHASE=$(sed -n 's/.*vmtest\.phase=\([^ ]*\).*/\1/p' /proc/cmdline)
export DEBIAN_FRONTEND=noninteractive LC_ALL=C
DATA=/var/lib/stigmer/vmtest-data
if [ "$ROLE" = rpm ]; then ENVFILE=/etc/sysconfig/stigmer; else ENVFILE=/etc/default/stigmer; fi

if [ "$PHASE" = shell ]; then
	# A kept guest booted by `vmtest.sh shell`: a root shell on the console.
	exec setsid -c bash -l </dev/ttyS0 >/dev/ttyS0 2>&1
fi

stty -F /dev/ttyS1 raw -echo 2>/dev/null
exec 3>/dev/ttyS1
out() { printf '%s\n' "$*" >&3; }
log() { echo "vmtest[$SC]: $*"; }

# --- small probes --------------------------------------------------------
# Every process started in the guest costs CPU that the emulated machine
# lacks, so the probes poll at 2-4 Hz and time with shell builtins.

# tick sets T to the uptime in centiseconds; nap SECONDS sleeps (no fork).
tick() {
	read -r T _ </proc/uptime
	T=${T/./}
	T=$((10#$T))
}
exec {NAPFD}<> <(:)
nap() { read -r -t "$1" -u "$NAPFD" _ || :; }
now() { tick; printf '%d.%02d\n' $((T / 100)) $((T % 100)); }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }
prop() { systemctl show -p "$1" --value stigmer 2>/dev/null; }
mainpid() { prop MainPID; }
active() { [ "$(systemctl is-active stigmer 2>/dev/null)" = active ]; }
# http PATH: GET http://127.0.0.1:7234PATH (or $API_PORT) through bash's /dev/tcp (no fork:
# a curl costs 0.3 s of emulated CPU); sets HTTP_CODE (000: no answer) and HTTP_BODY.
http() {
	local fd line
	HTTP_CODE=000 HTTP_BODY=
	{ exec {fd}<>"/dev/tcp/127.0.0.1/${API_PORT:-7234}"; } 2>/dev/null || return 1
	printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$1" >&"$fd"
	if IFS= read -r -t 5 line <&"$fd"; then
		line=${line#* }
		HTTP_CODE=${line%% *}
		while IFS= read -r -t 5 line <&"$fd" && [ -n "${line%$'\r'}" ]; do :; done
		IFS= read -r -d '' -t 5 HTTP_BODY <&"$fd" || :
	fi
	exec {fd}>&-
	[ "$HTTP_CODE" != 000 ]
}
ready() { http /readyz && [ "$HTTP_CODE" = 200 ]; }
# listening: anything answers on the API port (a restarted server).
listening() { { exec {LFD}<>/dev/tcp/127.0.0.1/7234; } 2>/dev/null && exec {LFD}>&-; }
gone() { [ ! -e "/proc/$1" ]; }
# runner_poll NAME: sets RP_PID and RP_STATE from GET /api/v1/status (no fork).
runner_poll() {
	RP_PID="" RP_STATE=""
	http /api/v1/status || return 1
	[[ $HTTP_BODY =~ \{[^{}]*\"name\":\"$1\"[^{}]*\} ]] || return 1
	local obj=${BASH_REMATCH[0]}
	[[ $obj =~ \"pid\":([0-9]+) ]] && RP_PID=${BASH_REMATCH[1]}
	[[ $obj =~ \"state\":\"([a-z]+)\" ]] && RP_STATE=${BASH_REMATCH[1]}
	return 0
}
version() { /usr/bin/stigmer version 2>/dev/null | awk 'NR == 1 {print $2}'; }
# unit_pids prints the PIDs in stigmer.service's cgroup (v1 or v2).
unit_pids() { grep -l 'stigmer\.service' /proc/[0-9]*/cgroup 2>/dev/null | cut -d/ -f3; }
# runner NAME prints "pid state restarts" of the runner from `server status --json`.
runner() {
	/usr/bin/stigmer server status --json 2>/dev/null |
		jq -r --arg n "$1" '.components[] | select(.name == $n) | "\(.pid) \(.state) \(.restarts)"' 2>/dev/null
}
runner_pid() { local p _x; read -r p _x <<<"$(runner "$1")"; echo "$p"; }
runner_restarts() { local _p _s r; read -r _p _s r <<<"$(runner "$1")"; echo "$r"; }
wants_link() { find /etc/systemd/system -name stigmer.service 2>/dev/null | grep -q .; }

# wait_for SECONDS CMD...: poll CMD every $EVERY s (default 0.25) until it
# succeeds; 1 on timeout.
wait_for() {
	local limit=$(($1 * 100)) start
	shift
	tick
	start=$T
	until "$@"; do
		tick
		[ $((T - start)) -gt "$limit" ] && return 1
		nap "${EVERY:-0.25}"
	done
	return 0
}
# new_main OLDPID: active with a main PID other than OLDPID (one systemctl call).
new_main() {
	local s p
	s=$(systemctl show -p MainPID -p ActiveState stigmer 2>/dev/null)
	case $s in *ActiveState=active*) ;; *) return 1 ;; esac
	p=${s#*MainPID=}
	p=${p%%$'\n'*}
	[ "$p" != 0 ] && [ "$p" != "$1" ]
}
runner_back() {
	runner_poll "$1" || return 1
	[ -n "$RP_PID" ] && [ "$RP_PID" != 0 ] && [ "$RP_PID" != "$2" ] &&
		{ [ "$RP_STATE" = running ] || [ "$RP_STATE" = up ]; }
}
inactive() { ! active; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a >= b)}'; }

# --- scenario bookkeeping ------------------------------------------------

SC=boot
begin() {
	SC=$1 FAILS=() FIG="" ATTACH=""
	ROW_T0=$(now)
	log "start"
}
fail() {
	FAILS+=("$*")
	log "FAIL: $*"
}
figure() { FIG="$*"; }
# attach FILE: add FILE's tail to the journal lines sent for a failure.
attach() { ATTACH="$ATTACH $1"; }
end() {
	local f
	# Each row's own length, for the figures (under emulation, 2 cores shared).
	FIG="${FIG:+$FIG }[row $(since "$ROW_T0") s]"
	if [ ${#FAILS[@]} -eq 0 ]; then
		out "VMT RESULT $SC PASS $FIG"
		log "PASS $FIG"
		return
	fi
	out "VMT RESULT $SC FAIL $FIG"
	for f in "${FAILS[@]}"; do out "VMT WHY $SC $f"; done
	{
		echo "--- systemctl status stigmer"
		systemctl status stigmer --no-pager -l -n 0 2>&1
		echo "--- journalctl -u stigmer (last 80, monotonic)"
		journalctl -u stigmer --no-pager -q -o short-monotonic -n 80 2>&1
		for f in $ATTACH; do
			echo "--- $f"
			tail -n 40 "$f"
		done
	} | sed "s/^/VMT LOG $SC /" >&3
}

# --- shared checks -------------------------------------------------------

# run_kept CMD...: run a command with no input, its output kept in PKG_LOG
# for a failure report; sets RC to its exit status.
PKG_N=0
run_kept() {
	PKG_N=$((PKG_N + 1))
	PKG_LOG=/var/tmp/vmtest-pkg-$PKG_N.log
	log "$*"
	RC=0
	"$@" </dev/null >"$PKG_LOG" 2>&1 || RC=$?
	attach "$PKG_LOG"
}

# pkg CMD...: run a package command that must succeed (run_kept).
pkg() {
	run_kept "$@"
	[ "$RC" = 0 ] || fail "'$*' exited $RC"
	return "$RC"
}

# check_running VERSION: the three processes as stigmer, /readyz, version.
check_running() {
	local want=$1 p args n=0 bad=""
	for p in $(unit_pids); do
		args=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
		n=$((n + 1))
		case "$args" in
		"/usr/bin/stigmer internal-server "* | "/usr/bin/stigmer internal-workflow-runner "* | \
			"/usr/bin/stigmer internal-agent-runner "*) ;;
		*) bad="$bad [$p: $args]" ;;
		esac
		[ "$(ps -o user= -p "$p")" = stigmer ] || bad="$bad [$p runs as $(ps -o user= -p "$p")]"
	done
	[ "$n" = 3 ] || fail "$n processes in the unit's cgroup, want 3: $(for p in $(unit_pids); do tr '\0' ' ' <"/proc/$p/cmdline"; echo -n '; '; done)"
	[ -z "$bad" ] || fail "unexpected processes:$bad"
	local status
	status=$(systemctl status stigmer --no-pager -l 2>/dev/null)
	for args in internal-server internal-workflow-runner internal-agent-runner; do
		grep -q "/usr/bin/stigmer $args" <<<"$status" || fail "systemctl status shows no $args"
	done
	ready || fail "/readyz is not 200"
	[ "$(version)" = "$want" ] || fail "stigmer version prints '$(/usr/bin/stigmer version 2>&1 | head -n1)', want 'stigmer $want'"
}

check_dirs() {
	local got
	got=$(stat -c '%a %U:%G' /var/lib/stigmer 2>&1)
	[ "$got" = "750 stigmer:stigmer" ] || fail "/var/lib/stigmer is '$got', want 750 stigmer:stigmer"
	got=$(stat -c '%a %U:%G' /var/log/stigmer 2>&1)
	[ "$got" = "755 stigmer:stigmer" ] || fail "/var/log/stigmer is '$got', want 755 stigmer:stigmer"
	getent passwd stigmer >/dev/null || fail "no user stigmer"
	getent group stigmer >/dev/null || fail "no group stigmer"
}

# install_fresh VERSION CMD...: install, then enabled + active + ready within 30 s.
install_fresh() {
	local want=$1 t0 t1 tp ta tr id
	shift
	t0=$(now)
	pkg "$@" || return 1
	# The install's own length is emulation speed (dpkg and Perl under TCG);
	# the promise is about the service once the package is in.
	tp=$(since "$t0") t1=$(now)
	EVERY=0.5 wait_for 30 active || fail "not active 30 s after the install returned (is-active: $(systemctl is-active stigmer))"
	ta=$(since "$t1")
	wait_for 30 ready || fail "/readyz not 200 within 30 s more"
	tr=$(since "$t1")
	figure "install took ${tp} s; active ${ta} s and /readyz 200 ${tr} s after it returned"
	[ "$(systemctl is-enabled stigmer 2>&1)" = enabled ] || fail "is-enabled: $(systemctl is-enabled stigmer 2>&1)"
	check_running "$want"
	check_dirs
	[ "$(stat -c '%a %U:%G' "$ENVFILE" 2>&1)" = "600 root:root" ] ||
		fail "$ENVFILE is '$(stat -c '%a %U:%G' "$ENVFILE" 2>&1)', want 600 root:root"
	# Lines of all three components reach the journal under the unit.
	for id in stigmer-server stigmer-workflow-runner stigmer-agent-runner; do
		wait_for 10 eval "journalctl -u stigmer -t $id -q --no-pager | grep -q ." ||
			fail "journalctl -u stigmer -t $id shows nothing"
	done
}

count_plain() { journalctl -u stigmer -q --no-pager -o cat | grep -c '^Started Stigmer Server'; }
count_unit() { journalctl -u stigmer -q --no-pager -o cat | grep -c '^Started stigmer\.service - Stigmer Server'; }

# kill_main SIGNAL TIMEOUT: signal the main PID (OOM: have the kernel's OOM
# killer kill it), expect a new one after RestartSec, NRestarts +1, /readyz
# 200 again. Sets KILL_* for the caller.
kill_main() {
	local sig=$1 limit=$2 p0 n0 t0 start delay rs
	p0=$(mainpid) n0=$(prop NRestarts)
	KILL_PLAIN0=$(count_plain) KILL_UNIT0=$(count_unit)
	rs=$(prop RestartUSec)
	[ "$rs" = 10s ] || fail "RestartSec is $rs, the guide promises 10s"
	[ "$p0" != 0 ] || { fail "no main PID before the kill"; return 1; }
	t0=$(now)
	if [ "$sig" = OOM ]; then oom_kill "$p0"; else kill "-$sig" "$p0"; fi
	# Fork-free until the server answers again: the old PID goes, systemd
	# waits RestartSec, the new server gets ready. Then systemd is asked.
	wait_for "$limit" gone "$p0" || { fail "PID $p0 still there $limit s after SIG$sig"; return 1; }
	if ! wait_for "$limit" ready; then
		fail "/readyz not 200 within $limit s of the old PID's end (state $(prop ActiveState)/$(prop SubState), MainPID $(mainpid))"
		return 1
	fi
	KILL_READY=$(since "$t0")
	new_main "$p0" || fail "after the restart: state $(prop ActiveState), MainPID $(mainpid) (was $p0)"
	start=$(prop ExecMainStartTimestampMonotonic)
	delay=$(awk -v s="$start" -v t="$t0" 'BEGIN {printf "%.1f", s / 1e6 - t}')
	KILL_DELAY=$delay
	ge "$delay" 10 || fail "restarted ${delay} s after the kill, before RestartSec=10s"
	[ "$(prop NRestarts)" = $((n0 + 1)) ] || fail "NRestarts went $n0 -> $(prop NRestarts), want +1"
	[ -e "/proc/$p0" ] && fail "old main PID $p0 still exists"
	figure "main PID $p0 -> $(mainpid): started ${delay} s after the kill, /readyz 200 after ${KILL_READY} s; NRestarts $n0 -> $(prop NRestarts)"
	return 0
}

# scenario_kill9 ID: the kill -9 row, with the start-line row when ID is kill9.
scenario_kill9() {
	begin "$1"
	kill_main KILL 60
	end
	[ "$1" = kill9 ] || return 0

	begin startline
	local sd plain unit guide want
	sd=$(systemctl --version | awk 'NR == 1 {print $2}')
	# The journal may trail the restart by a moment.
	if [ "$sd" -le 247 ]; then want=plain; else want=unit; fi
	wait_for 10 eval '[ "$(count_'$want')" -gt "$KILL_'"${want^^}"'0" ]' || true
	plain=$(count_plain) unit=$(count_unit)
	guide=$(journalctl -u stigmer | grep -c "Started Stigmer Server")
	figure "systemd $sd: 'Started Stigmer Server' $KILL_PLAIN0 -> $plain, 'Started stigmer.service - Stigmer Server' $KILL_UNIT0 -> $unit; guide's grep -c: $guide; NRestarts $(prop NRestarts)"
	# systemd 247 logs the description alone; 252 puts the unit name first
	# (the change came between them), so the guide's grep counts 0 there.
	if [ "$want" = plain ]; then
		[ "$plain" = $((KILL_PLAIN0 + 1)) ] || fail "plain start lines $KILL_PLAIN0 -> $plain, want +1"
		[ "$unit" = "$KILL_UNIT0" ] || fail "unit-name start lines appeared on systemd $sd"
	else
		[ "$unit" = $((KILL_UNIT0 + 1)) ] || fail "unit-name start lines $KILL_UNIT0 -> $unit, want +1"
		[ "$plain" = 0 ] || fail "plain start lines on systemd $sd: $plain"
	fi
	end
}

# prober FILE ACTION...: probe.pl opens a new connection to /readyz every
# $PROBE_EVERY s (default 0.05) from 2 s before ACTION until 5 s after
# /readyz is 200 again; sets PROBE to "refused R[ (X reset at connect)],
# failed F (+START/WAIT/HOW ...), longest W s of N", PROBE_REFUSED (R + X:
# the connections a listener never handed to a server) and PROBE_FAILED. A
# failed probe shows when it connected (s after the action started), how
# long it waited and how it failed (probe.pl says the kinds).
prober() {
	local file=$1 stop=$1.stop pid up
	shift
	rm -f "$file" "$stop" "$file.n"
	perl "$IN/probe.pl" "$file" "${PROBE_EVERY:-0.05}" "$stop" >"$file.n" &
	pid=$!
	nap 2
	log "probing across: $*"
	read -r up _ </proc/uptime
	echo "T $up" >>"$file"
	"$@"
	log "probing: $* returned"
	nap 1
	wait_for 60 ready || fail "/readyz not 200 within 60 s of: $*"
	nap 5
	: >"$stop"
	# Every probe ends within its 30 s connect and 30 s read timeouts.
	if ! wait_for 70 test -s "$file.n"; then
		fail "probe.pl still running 70 s after its last probe started"
		kill "$pid"
	fi
	wait "$pid"
	# One pass: the counts, the number of probe lines, then the text.
	local lines
	read -r PROBE_REFUSED PROBE_FAILED lines PROBE < <(awk -v started="$(cat "$file.n")" '$1 == "T" {t = $2; next} {n++} $1 == "R" {r++} $1 == "X" {x++}
		$1 == "F" {f++; fl = fl sprintf(" %+.2f/%.2f/%s", $2 - t, $3 - $2, $4)}
		$1 != "R" && $1 != "X" && $3 - $2 > w {w = $3 - $2}
		END {printf "%d %d %d ", r + x, f, n
			printf "refused %d%s, failed %d%s, longest %.1f s of %d", r, (x ? sprintf(" (%d reset at connect)", x) : ""), f, (fl == "" ? "" : " (" substr(fl, 2) ")"), w, n
			if (n != started) printf " (%d started!)", started
			print ""}' "$file")
	[ "$(cat "$file.n")" = "$lines" ] || fail "probes started and lines written differ: $PROBE"
}

killmain() { kill -9 "$(mainpid)"; }

# listen_ino prints the inode of the socket listening on 7234 (none: empty):
# the same inode before and after a restart is the same socket, kept by
# systemd's fd store.
listen_ino() { awk '$2 ~ /:1C42$/ && $4 == "0A" {print $10}' /proc/net/tcp /proc/net/tcp6 2>/dev/null; }

# backlog_case NAME ACTION...: probes across ACTION (prober); none may be
# refused, and the socket listening afterwards must be the one from before.
# With ANSWER_ALL=1 (a stop, not a kill) none may fail either: a kill loses
# the connections the dead server had accepted. Appends "NAME: figures" to
# PROBES.
backlog_case() {
	local name=$1 ino0 ino1
	shift
	ino0=$(listen_ino)
	prober "/run/vmtest-probe-$name" "$@"
	ino1=$(listen_ino)
	PROBES="${PROBES:+$PROBES; }$name: $PROBE"
	[ "$PROBE_REFUSED" = 0 ] || fail "$name: $PROBE"
	[ -z "${ANSWER_ALL:-}" ] || [ "$PROBE_FAILED" = 0 ] || fail "$name: failed probes: $PROBE"
	if [ -z "$ino0" ] || [ "$ino1" != "$ino0" ]; then
		fail "$name: the listening socket changed (inode '$ino0' -> '$ino1'): systemd did not keep it"
	fi
}

# The fd store keeps the socket while systemd restarts the server by itself
# (kill -9 here; SIGSEGV and the watchdog in their rows) and while a restart
# job runs: systemctl restart, and the try-restart of a package upgrade (a
# reinstall of the same .deb runs the same postinst path).
scenario_backlog() {
	begin backlog
	PROBES=
	backlog_case kill-9 killmain
	ANSWER_ALL=1 backlog_case restart systemctl restart stigmer
	[ "$ROLE" != deb ] || ANSWER_ALL=1 backlog_case reinstall pkg apt-get install --reinstall -y "./$NEW_DEB"
	figure "$PROBES"
	end
}

# The operator moves the API to another port and restarts, as the guide says
# for any env change. The restart keeps the stored socket (the old port): the
# new server refuses it with exit 78 and says what to do, and the failed start
# releases the store, so `systemctl start` then serves the new port. The
# README says to stop and start when changing the port.
scenario_listen_change() {
	begin listen-change
	local n0 st
	cp -p "$ENVFILE" /run/vmtest-env.orig
	echo 'STIGMER_LISTEN=127.0.0.1:7236' >>"$ENVFILE"
	n0=$(journalctl -u stigmer -q --no-pager -o cat | grep -c 'the socket systemd kept')
	systemctl restart stigmer 2>/dev/null && fail "systemctl restart succeeded though the kept socket is at 7234"
	st=$(prop ExecMainStatus)
	[ "$st" = 78 ] || fail "the refused start exited $st, want 78"
	[ "$(journalctl -u stigmer -q --no-pager -o cat | grep -c 'the socket systemd kept')" -gt "$n0" ] ||
		fail "no journal line saying the kept socket differs from STIGMER_LISTEN"
	[ -z "$(listen_ino)" ] || fail "the kept socket still listens on 7234 after the failed start"
	systemctl start stigmer || fail "systemctl start after the exit 78 failed"
	API_PORT=7236 wait_for 30 ready || fail "/readyz on 7236 not 200 within 30 s of systemctl start"
	listening && fail "7234 still answers after the move to 7236"
	figure "restart: exit $st refused start, then start: $(API_PORT=7236 http /readyz; echo "$HTTP_CODE") on 7236"
	# Back, the way the README says: stop, then start.
	cp -p /run/vmtest-env.orig "$ENVFILE"
	systemctl stop stigmer
	restart_service
	end
}

scenario_segv() {
	begin segv
	# The Go runtime's crash trace goes to stderr, which the unit tags
	# stigmer-server (SyslogIdentifier=), like the server's own entries.
	prober /run/vmtest-probe-segv kill_main SEGV 60
	figure "$FIG; probes: $PROBE"
	[ "$PROBE_REFUSED" = 0 ] || fail "probes refused: $PROBE"
	journalctl -u stigmer -t stigmer-server -q --no-pager | grep -q 'SIGSEGV' ||
		fail "no SIGSEGV line under stigmer-server in the journal"
	end
}

# The runner's crash trace goes to its own journal stream (issue 9, point 1),
# tagged like the runner's log entries, not to the server's stderr.
scenario_segv_runner() {
	begin segv-runner
	local rp n0 q='-q --no-pager -o cat'
	rp=$(runner_pid workflow-runner)
	n0=$(journalctl -u stigmer -t stigmer-server $q | grep -c SIGSEGV)
	if [ -z "$rp" ] || [ "$rp" = 0 ]; then
		fail "workflow-runner has no PID in server status"
	else
		kill -SEGV "$rp"
		wait_for 60 runner_back workflow-runner "$rp" || fail "workflow-runner not back within 60 s of SIGSEGV"
		wait_for 10 eval "journalctl -u stigmer -t stigmer-workflow-runner $q | grep -q '^SIGSEGV'" ||
			fail "no SIGSEGV trace under journalctl -u stigmer -t stigmer-workflow-runner"
		[ "$(journalctl -u stigmer -t stigmer-server $q | grep -c SIGSEGV)" = "$n0" ] ||
			fail "the runner's SIGSEGV trace is (also) under -t stigmer-server"
		figure "trace lines under stigmer-workflow-runner: $(journalctl -u stigmer -t stigmer-workflow-runner $q | grep -c -e SIGSEGV -e '^goroutine '); SIGSEGV under stigmer-server: $n0 -> $(journalctl -u stigmer -t stigmer-server $q | grep -c SIGSEGV)"
	fi
	end
}

scenario_watchdog() {
	begin watchdog
	local wd t0
	wd=$(prop WatchdogUSec)
	if [ "$wd" = 0 ] || [ -z "$wd" ]; then
		fail "the unit has no WatchdogSec"
		end
		return
	fi
	t0=$(journalctl -u stigmer -q --no-pager | grep -c 'Watchdog timeout')
	# Probes every 0.2 s, not 0.05: a probe waits up to 30 s, and over the
	# ~45 s of a watchdog kill 900 waiting shells would crowd the guest's
	# 1 GiB. Those waiting more than their 30 s give up: counted as failed.
	PROBE_EVERY=0.2 prober /run/vmtest-probe-watchdog kill_main STOP 150
	[ "$PROBE_REFUSED" = 0 ] || fail "probes refused: $PROBE"
	[ "$(journalctl -u stigmer -q --no-pager | grep -c 'Watchdog timeout')" -gt "$t0" ] ||
		fail "no 'Watchdog timeout' line from systemd in the journal"
	figure "WatchdogSec=$wd: $FIG; probes: $PROBE"
	end
}

# oom_kill PID: make PID the OOM killer's choice and trigger it (sysrq f).
oom_kill() {
	echo 1000 >"/proc/$1/oom_score_adj"
	echo f >/proc/sysrq-trigger
}

scenario_oom() {
	begin oom
	local p0
	p0=$(mainpid)
	kill_main OOM 60
	journalctl -k -q --no-pager | grep -q "Killed process $p0 " ||
		fail "the kernel log shows no OOM kill of $p0"
	end
}

scenario_oom_runner() {
	begin oom-runner
	local p0 n0 rp t0
	p0=$(mainpid) n0=$(prop NRestarts) rp=$(runner_pid workflow-runner)
	[ -n "$rp" ] || fail "no workflow-runner PID in server status"
	t0=$(now)
	oom_kill "$rp"
	wait_for 30 runner_back workflow-runner "$rp" || fail "workflow-runner not back within 30 s"
	figure "workflow-runner $rp OOM-killed, back as $(runner_pid workflow-runner) after $(since "$t0") s; main PID $p0 -> $(mainpid)"
	journalctl -k -q --no-pager | grep -q "Killed process $rp " || fail "the kernel log shows no OOM kill of $rp"
	# OOMPolicy=stop (the default from 243) would have stopped the whole unit.
	[ "$(mainpid)" = "$p0" ] || fail "main PID changed $p0 -> $(mainpid): the unit was stopped"
	[ "$(prop NRestarts)" = "$n0" ] || fail "NRestarts $n0 -> $(prop NRestarts)"
	active || fail "unit not active"
	wait_for 30 ready || fail "/readyz not 200 within 30 s"
	end
}

# stays_down PID NRESTARTS: PID ends, nothing answers on the port for 13 s
# (past RestartSec=10), then the unit is inactive with NRestarts unchanged.
stays_down() {
	local p0=$1 n0=$2
	wait_for 30 gone "$p0" || { fail "PID $p0 still there 30 s later"; return 1; }
	# The unit ends once ExecStopPost= (the history and alert report) has
	# run; until then systemd still holds the stored socket, as during any
	# stop. From then on nothing may listen before RestartSec is over.
	EVERY=0.5 wait_for 30 eval '[ "$(systemctl is-active stigmer)" = inactive ]' || fail "not inactive 30 s after PID $p0 ended: $(systemctl is-active stigmer)"
	EVERY=1 wait_for 13 listening && fail "the API answers again within 13 s (RestartSec=10)"
	[ "$(systemctl is-active stigmer)" = inactive ] || fail "is-active: $(systemctl is-active stigmer), want inactive"
	[ "$(prop NRestarts)" = "$n0" ] || fail "NRestarts $n0 -> $(prop NRestarts)"
	[ -z "$(pgrep -u stigmer)" ] || fail "processes of stigmer left: $(pgrep -a -u stigmer)"
}

restart_service() {
	systemctl start stigmer || fail "systemctl start failed"
	wait_for 30 ready || fail "/readyz not 200 within 30 s of systemctl start"
}

scenario_stop() {
	begin stop
	local n0 p0
	n0=$(prop NRestarts) p0=$(mainpid)
	systemctl stop stigmer || fail "systemctl stop exited $?"
	# Stop means stop: systemd closed the stored socket too, so a client is
	# refused at once, not parked in a backlog that nobody serves.
	listening && fail "a connection to 127.0.0.1:7234 was taken right after systemctl stop"
	[ -z "$(listen_ino)" ] || fail "a socket still listens on 7234 after systemctl stop (inode $(listen_ino))"
	stays_down "$p0" "$n0"
	figure "$(systemctl is-active stigmer) 13 s after the stop, NRestarts $n0 -> $(prop NRestarts)"
	restart_service
	end
}

scenario_term() {
	begin term
	local n0 p0
	n0=$(prop NRestarts) p0=$(mainpid)
	kill -TERM "$p0"
	stays_down "$p0" "$n0"
	[ "$(prop ExecMainStatus)" = 0 ] || fail "main process exit status $(prop ExecMainStatus), want 0"
	[ "$(prop Result)" = success ] || fail "Result=$(prop Result), want success"
	figure "exit status $(prop ExecMainStatus), $(systemctl is-active stigmer) 13 s later, NRestarts $n0 -> $(prop NRestarts)"
	restart_service
	end
}

# scenario_hup: a death by SIGHUP, which Restart=on-failure alone calls
# clean; RestartForceExitStatus= makes it a restart.
scenario_hup() {
	begin hup
	kill_main HUP 60
	end
}

# The timeout row's pieces: a group only the unit gets (as docker's would
# be), a gate directory only that group may enter, and a container CLI
# stand-in (the guest has no docker) that waits for the gate's file.
GATE=/run/vmtest-gate
STANDIN=/usr/local/bin/vmtest-container-cli-standin
DROPIN=/etc/systemd/system/stigmer.service.d/vmtest-timeout.conf

make_standin() {
	getent group vmtestgate >/dev/null || groupadd --system vmtestgate
	install -d -m 0750 -o root -g vmtestgate "$GATE"
	rm -f "$GATE/open"
	cat >"$STANDIN" <<-'EOF'
		#!/bin/sh
		# vmtest's stand-in for a container CLI (the guest has no docker).
		# `rm` (the server's stale-container removal) succeeds; `run` holds
		# the agent runner back until /run/vmtest-gate/open exists, which
		# only the group vmtestgate (the unit's SupplementaryGroups=) can
		# see, then runs the native agent runner with the server's env.
		case "$1" in
		rm) exit 0 ;;
		run) ;;
		*) echo "stand-in: unexpected arguments: $*" >&2; exit 2 ;;
		esac
		echo "stand-in: holding the agent runner until /run/vmtest-gate/open exists" >&2
		until [ -e /run/vmtest-gate/open ]; do sleep 0.5; done
		echo "stand-in: gate open, starting the agent runner" >&2
		exec /usr/bin/stigmer internal-agent-runner
	EOF
	chmod 0755 "$STANDIN"
	mkdir -p "$(dirname "$DROPIN")"
	cat >"$DROPIN" <<-EOF
		[Service]
		TimeoutStartSec=5s
		SupplementaryGroups=vmtestgate
		Environment=STIGMER_AGENT_RUNNER_IMAGE=vmtest/agent-runner-standin:1
		Environment=STIGMER_CONTAINER_CLI=$STANDIN
	EOF
	systemctl daemon-reload
}

# starting: a start attempt with its main process, not yet ready.
starting() { [ "$(prop SubState)" = start ] && [ "$(mainpid)" != 0 ]; }
# restarted_since NRESTARTS START: systemd restarted the unit (NRestarts
# grew) and the new main process runs (its start time is not START).
restarted_since() {
	[ "$(prop NRestarts)" -gt "$1" ] && [ "$(prop ExecMainStartTimestampMonotonic)" != "$2" ] && [ "$(mainpid)" != 0 ]
}

# scenario_timeout: a start that outlives TimeoutStartSec (the agent runner
# never registers) fails with result timeout and is restarted RestartSec
# later, again and again, until the runner may start; then the unit is up.
scenario_timeout() {
	begin timeout
	local n0 t0 s1 s2 to0 to gap
	make_standin
	to0=$(journalctl -u stigmer -q --no-pager | grep -c "Failed with result 'timeout'")
	t0=$(now)
	systemctl restart --no-block stigmer
	EVERY=0.5 wait_for 20 starting || fail "no start attempt within 20 s"
	# Read once the manual restart began: it resets NRestarts to 0.
	n0=$(prop NRestarts)
	s1=$(prop ExecMainStartTimestampMonotonic)
	# 5 s of start, RestartSec=10, then the next attempt's main PID.
	if ! EVERY=1 wait_for 40 restarted_since "$n0" "$s1"; then
		fail "not restarted within 40 s of the first start (state $(prop ActiveState)/$(prop SubState), Result=$(prop Result), NRestarts $n0 -> $(prop NRestarts))"
	fi
	s2=$(prop ExecMainStartTimestampMonotonic)
	to=$(journalctl -u stigmer -q --no-pager | grep -c "Failed with result 'timeout'")
	[ "$to" -gt "$to0" ] || fail "no \"Failed with result 'timeout'\" from systemd in the journal"
	gap=$(awk -v a="$s1" -v b="$s2" 'BEGIN {printf "%.1f", (b - a) / 1e6}')
	ge "$gap" 15 || fail "the next start came ${gap} s after the first, before TimeoutStartSec 5 + RestartSec 10"
	# Let the stand-in go: the attempt under way (or the next one) succeeds.
	touch "$GATE/open"
	EVERY=0.5 wait_for 60 ready || fail "/readyz not 200 within 60 s of opening the gate (state $(prop ActiveState)/$(prop SubState), NRestarts $(prop NRestarts))"
	active || fail "not active once the gate opened: $(systemctl is-active stigmer)"
	# The stand-in's stderr is the agent runner's output (tagged as the server's today).
	journalctl -u stigmer -q --no-pager | grep -q 'stand-in: gate open' ||
		fail "the stand-in never saw the gate: SupplementaryGroups= not in effect?"
	figure "timeouts $to0 -> $to; second start ${gap} s after the first; NRestarts $n0 -> $(prop NRestarts); /readyz 200 $(since "$t0") s after the restart"
	# Leave the unit as the later rows expect it.
	rm -f "$DROPIN" "$GATE/open"
	systemctl daemon-reload
	systemctl restart stigmer || fail "systemctl restart without the drop-in failed"
	wait_for 30 ready || fail "/readyz not 200 within 30 s without the drop-in"
	end
}

# doctor_run: `stigmer doctor` as root; sets DOC_OUT (its
# output), DOC_RC and DOC_T (its length in seconds).
doctor_run() {
	local t0
	t0=$(now)
	DOC_RC=0
	DOC_OUT=$(/usr/bin/stigmer doctor 2>&1) || DOC_RC=$?
	DOC_T=$(since "$t0")
}

# doctor_fails CHECK VERDICT FIX: the last doctor_run exited 1, and CHECK's
# line is a FAIL whose verdict has VERDICT and whose fix line has FIX.
doctor_fails() {
	[ "$DOC_RC" = 1 ] || fail "$1 broken: doctor exited $DOC_RC, want 1"
	doctor_says FAIL "$@"
}

# doctor_says STATUS CHECK VERDICT FIX: in the last doctor_run, CHECK's line
# has STATUS (FAIL, WARN), a verdict with VERDICT and a fix line with FIX
# (read with builtins: no process per check).
doctor_says() {
	local status=$1 check=$2 verdict=$3 fix=$4 line found=""
	while IFS= read -r line; do
		if [ -n "$found" ]; then
			[[ $line == "      fix: "*"$fix"* ]] && return 0
			fail "$check: the fix after '$found' does not mention '$fix': '$line'"
			return 1
		fi
		[[ $line == "$status  $check "* ]] || continue
		[[ $line == *"$verdict"* ]] || { fail "$check: '$line' does not say '$verdict'"; return 1; }
		found=$line
	done <<<"$DOC_OUT"
	fail "$check broken: no $status line with a fix for it: $(grep -E '^(FAIL|WARN)' <<<"$DOC_OUT" | tr '\n' ';')"
	return 1
}

# scenario_doctor: `stigmer doctor` on the installed, running service, as
# root and as a user who may not read the env file; then one thing broken
# at a time, each restored before the next, as operators and the VM rows
# have broken them: the check that looks at it fails with the repair as its
# fix. It ends with everything restored and passing, the service running on
# the same configuration.
scenario_doctor() {
	begin doctor
	local troot tnobody json rc uid cfg unit pp n t line mode named=""
	cp -p "$ENVFILE" /run/vmtest-env.doctor
	doctor_run
	troot=$DOC_T
	[ "$DOC_RC" = 0 ] || fail "doctor exited $DOC_RC on the healthy service: $(grep -E '^FAIL' <<<"$DOC_OUT" | tr '\n' ';')"
	# Skips are no failure; nobody may not read the 0600 env file.
	tick
	n=$T
	rc=0
	json=$(cd / && runuser -u nobody -- /usr/bin/stigmer doctor --json 2>&1) || rc=$?
	tick
	tnobody=$(((T - n) / 100)).$(((T - n) % 100 / 10))
	[ "$rc" = 0 ] || fail "as nobody, doctor exited $rc: $(jq -r '.checks[] | select(.status == "fail") | "\(.name): \(.verdict)"' <<<"$json" 2>&1 | tr '\n' ';')"
	IFS=$'\t' read -r uid cfg unit < <(jq -r '[.uid, (.checks[] | select(.name == "config") | .status), (.checks[] | select(.name == "unit") | .status)] | @tsv' <<<"$json" 2>/dev/null)
	[ "$uid" = 65534 ] || fail "as nobody, doctor reports uid '$uid'"
	if [ "$cfg" != skip ] || [[ $json != *"cannot read $ENVFILE as uid 65534: permission denied; run as root"* ]]; then
		fail "as nobody, the config check is '$cfg' without saying it cannot read $ENVFILE"
	fi

	chmod 0644 "$ENVFILE"
	doctor_run
	doctor_fails env-file "is mode 0644, want 0600" "chmod 0600 $ENVFILE" && named="$named env-mode"
	chmod 0600 "$ENVFILE"

	echo 'STIGMER_LLM_PROVIDER openai' >>"$ENVFILE"
	n=$(grep -c '' "$ENVFILE")
	doctor_run
	doctor_fails config "$ENVFILE:$n: \"STIGMER_LLM_PROVIDER openai\" has no '='" "line $n" && named="$named env-line"
	cp -p /run/vmtest-env.doctor "$ENVFILE"

	chown root:root /var/lib/stigmer
	doctor_run
	doctor_fails data-dir "owned by root:root, want stigmer:stigmer" "chown -R stigmer:stigmer /var/lib/stigmer" && named="$named data-owner"
	chown stigmer:stigmer /var/lib/stigmer

	chown root:root /var/log/stigmer
	doctor_run
	doctor_fails log-dir "owned by root:root, want stigmer:stigmer" "chown -R stigmer:stigmer /var/log/stigmer" && named="$named log-owner"
	chown stigmer:stigmer /var/log/stigmer

	mode=$(stat -c %a /usr/bin/stigmer)
	chmod 0700 /usr/bin/stigmer
	doctor_run
	doctor_fails binary "/usr/bin/stigmer is mode 0700: the stigmer user cannot run it" "chmod 0755 /usr/bin/stigmer" && named="$named binary-mode"
	chmod "$mode" /usr/bin/stigmer

	systemctl disable --quiet stigmer 2>/dev/null
	doctor_run
	doctor_fails enabled "disabled: it will not start at boot" "systemctl enable stigmer" && named="$named disabled"
	systemctl enable --quiet stigmer 2>/dev/null

	# The packaged unit has PrivateUsers=yes: with user namespaces off,
	# every start fails at step NAMESPACE. The running service is not
	# touched by the sysctl.
	if [ "$(prop PrivateUsers)" = yes ]; then
		n=$(</proc/sys/user/max_user_namespaces)
		echo 0 >/proc/sys/user/max_user_namespaces
		doctor_run
		doctor_fails userns "user namespaces are off (user.max_user_namespaces=0)" "PrivateUsers=no" && named="$named userns-off"
		echo "$n" >/proc/sys/user/max_user_namespaces
	else
		fail "the unit's PrivateUsers= is '$(prop PrivateUsers)', want yes"
	fi

	# A runner image with no docker on the guest (none is installed).
	if command -v docker >/dev/null; then
		fail "the guest has a docker CLI: the no-docker case cannot be made"
	else
		echo 'STIGMER_AGENT_RUNNER_IMAGE=stigmer/agent-runner:vmtest' >>"$ENVFILE"
		doctor_run
		doctor_fails docker "STIGMER_AGENT_RUNNER_IMAGE=stigmer/agent-runner:vmtest needs docker, which is not on the service's PATH" "install docker" && named="$named no-docker"
		cp -p /run/vmtest-env.doctor "$ENVFILE"
	fi

	# The API beyond loopback: doctor cannot read firewall rules, and
	# says so (a warning; the running server is not restarted).
	printf '%s\n' STIGMER_LISTEN=0.0.0.0:7234 STIGMER_ALLOW_NON_LOOPBACK=1 >>"$ENVFILE"
	doctor_run
	doctor_says WARN firewall "listens on 0.0.0.0:7234 beyond this machine and has no authentication" "ufw status" && named="$named non-loopback"
	cp -p /run/vmtest-env.doctor "$ENVFILE"

	# A crash: systemd's restart count and the history's last crash, with
	# this kill's time (earlier rows crashed it too).
	n=$(prop NRestarts) pp=$(mainpid) t=$(date +%s)
	kill -KILL "$pp"
	if wait_for 30 eval '[ "$(mainpid)" != "$pp" ] && ready'; then
		doctor_run
		doctor_says WARN restarts "systemd restarted the server $((n + 1)) time(s) since the last start by hand" "journalctl -u stigmer" && named="$named kill9-restarts"
		doctor_says WARN last-crash "killed by SIGKILL" "journalctl -u stigmer --since" && named="$named+last-crash"
		line=$(grep '^WARN  last-crash' <<<"$DOC_OUT")
		[[ $line =~ \(([0-9T:+Z-]+)\) ]] && [ "$(date -d "${BASH_REMATCH[1]}" +%s)" -ge "$t" ] ||
			fail "the last crash doctor names is not this kill's (at $(date -d "@$t" -Is)): $line"
	else
		fail "not restarted and ready within 30 s of kill -9"
	fi

	systemctl stop stigmer
	doctor_run
	doctor_fails active "inactive (dead)" "systemctl start stigmer" && named="$named stopped"
	doctor_fails api "no answer from http://127.0.0.1:7234/readyz" "systemctl start stigmer" && named="$named+api"
	# Another program on the port (the guide's "port already in use"):
	# perl-base has sockets; the guest has no python or socat.
	perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1:7234", Listen => 5, ReuseAddr => 1) or die "listen: $!\n"; sleep 300' &
	pp=$!
	if wait_for 10 listening; then
		doctor_run
		doctor_fails port "is taken by pid $pp \`perl -MIO::Socket::INET" "STIGMER_LISTEN" && named="$named port"
	else
		fail "the perl listener on 7234 did not come up"
	fi
	kill "$pp"
	wait "$pp" 2>/dev/null

	systemctl mask --quiet stigmer 2>/dev/null
	doctor_run
	doctor_fails unit "stigmer.service is masked" "systemctl unmask stigmer" && named="$named masked"
	systemctl unmask --quiet stigmer 2>/dev/null

	# A full data directory: a 16 MiB tmpfs over it, the service stopped.
	mount -t tmpfs -o "size=16m,mode=0750,uid=$(id -u stigmer),gid=$(id -g stigmer)" vmtest-full /var/lib/stigmer
	doctor_run
	doctor_fails disk "on the filesystem of /var/lib/stigmer: below 100 MiB" "free space there" && named="$named disk-full"
	umount /var/lib/stigmer

	# No stigmer user (as a botched migration leaves it); the fix doctor
	# gives brings it back. If the uid differs, the unit's StateDirectory=
	# and LogsDirectory= make systemd chown them on start; the last doctor
	# run checks the owners.
	uid=$(id -u stigmer)
	userdel stigmer 2>/dev/null
	doctor_run
	doctor_fails user "no user stigmer" "systemd-sysusers /usr/lib/sysusers.d/stigmer.conf" && named="$named no-user"
	systemd-sysusers /usr/lib/sysusers.d/stigmer.conf
	[ "$(id -u stigmer 2>&1)" = "$uid" ] || log "the stigmer user came back as uid $(id -u stigmer 2>&1), was $uid"
	restart_service

	doctor_run
	[ "$DOC_RC" = 0 ] || fail "doctor exited $DOC_RC once everything was restored: $(grep -E '^FAIL' <<<"$DOC_OUT" | tr '\n' ';')"
	active || fail "not active at the end: $(systemctl is-active stigmer)"
	cmp -s /run/vmtest-env.doctor "$ENVFILE" || fail "$ENVFILE differs from before the row"
	figure "doctor as root ${troot} s (restored: ${DOC_T} s), as nobody ${tnobody} s (unit: $unit); named:$named; warnings: $(grep -c '^WARN' <<<"$DOC_OUT")"
	end
}

# scenario_security: the unit's exposure as systemd-analyze rates it.
scenario_security() {
	begin security
	local sd x
	sd=$(systemctl --version | awk 'NR == 1 {print $2}')
	x=$(systemd-analyze security stigmer.service 2>&1 | sed -n 's/.*Overall exposure level for stigmer.service: \([0-9.]*\).*/\1/p')
	if [ -z "$x" ]; then
		fail "systemd-analyze security printed no exposure level"
	elif [ "$sd" -ge 252 ] && ! ge 1.2 "$x"; then
		fail "exposure $x on systemd $sd, want 1.2 or below"
	fi
	figure "systemd $sd: exposure $x"
	end
}

scenario_runners() {
	begin runners
	local r i p0 n0 rp rc0 t0 times fig="" table
	p0=$(mainpid) n0=$(prop NRestarts)
	for r in workflow-runner agent-runner; do
		times=""
		for i in 1 2 3; do
			rp=$(runner_pid "$r") rc0=$(runner_restarts "$r")
			[ -n "$rp" ] && [ "$rp" != 0 ] || { fail "$r has no PID in server status"; break; }
			t0=$(now)
			kill -9 "$rp"
			if ! wait_for 60 runner_back "$r" "$rp"; then
				fail "$r not back within 60 s of kill -9 $rp (status: $(runner "$r"))"
				break
			fi
			times="$times$(since "$t0")/"
			[ "$(runner_restarts "$r")" = $((rc0 + 1)) ] ||
				fail "$r restarts $rc0 -> $(runner_restarts "$r"), want +1"
			[ -e "/proc/$rp" ] && fail "killed $r $rp still in /proc ($(awk '/^State/ {print $2}' "/proc/$rp/status" 2>/dev/null))"
		done
		fig="$fig$r back in ${times%/} s (restarts $(runner_restarts "$r")); "
	done
	[ "$(mainpid)" = "$p0" ] || fail "main PID changed $p0 -> $(mainpid)"
	[ "$(prop NRestarts)" = "$n0" ] || fail "NRestarts $n0 -> $(prop NRestarts)"
	active || fail "unit not active"
	wait_for 30 ready || fail "/readyz not 200 within 30 s of the last kill"
	table=$(/usr/bin/stigmer server status 2>&1)
	for r in workflow-runner agent-runner; do
		echo "$table" | grep "$r" | grep -qw "$(runner_restarts "$r")" ||
			fail "stigmer server status shows no restart count $(runner_restarts "$r") for $r: $(echo "$table" | grep "$r")"
	done
	figure "${fig}main PID $p0 kept"
	end
}

# --- phase 2 of deb and the rpm guest: reboot, upgrade, remove ------------

scenario_reboot() {
	begin reboot
	local t0
	[ -f /var/lib/vmtest-phase1 ] || fail "no mark of phase 1: not the same disk"
	[ "$(cat /var/lib/vmtest-phase1 2>/dev/null)" != "$(cat /proc/sys/kernel/random/boot_id)" ] ||
		fail "same boot id as phase 1"
	wait_for 60 ready || fail "/readyz not 200 within 60 s of boot completion"
	figure "active at uptime $(awk -v s="$(prop ExecMainStartTimestampMonotonic)" 'BEGIN {printf "%.1f", s / 1e6}') s, /readyz 200 at uptime $(now) s, NRestarts $(prop NRestarts)"
	[ "$(systemctl is-enabled stigmer)" = enabled ] || fail "is-enabled: $(systemctl is-enabled stigmer)"
	check_running "$NEW_VERSION"
	end
}

# set_data: an env-file edit and a data file, to be found after an upgrade.
set_data() {
	EDIT="VMTEST_EDIT=kept-$RANDOM"
	echo "$EDIT" >>"$ENVFILE"
	TOKEN=$RANDOM$RANDOM
	echo "$TOKEN" >"$DATA"
	chown stigmer:stigmer "$DATA"
}

check_data_kept() {
	grep -qx "$EDIT" "$ENVFILE" || fail "the env file lost the edit $EDIT"
	[ "$(cat "$DATA" 2>/dev/null)" = "$TOKEN" ] || fail "$DATA lost or changed"
	# The older build ships another default: dpkg kept the edit (confold)
	# and put the new default beside it.
	if [ "$ROLE" = deb ]; then
		dpkg-deb --fsys-tarfile "$IN/$NEW_DEB" | tar -xO ./etc/default/stigmer | cmp -s - "$ENVFILE.dpkg-dist" ||
			fail "$ENVFILE.dpkg-dist is not the new default ($(ls -l "$ENVFILE"* 2>&1 | tr '\n' ' '))"
	fi
}

# check_rpmnew: rpm -U over an edited env file whose default changed keeps
# the edit (check_data_kept) and puts the new default beside it.
check_rpmnew() {
	local want got
	want=$(rpm -q --qf '[%{FILENAMES} %{FILEDIGESTS}\n]' stigmer | awk -v f="$ENVFILE" '$1 == f {print $2}')
	got=$(sha256sum "$ENVFILE.rpmnew" 2>/dev/null | awk '{print $1}')
	[ -n "$got" ] || { fail "no $ENVFILE.rpmnew beside the edited env file"; return; }
	[ "$got" = "$want" ] || fail "$ENVFILE.rpmnew is not the new package's env file (sha256 $got, rpm says $want)"
}

# check_gone: remove/erase: stopped, disabled, unit and binary gone.
check_gone() {
	active && fail "still active"
	[ -z "$(listen_ino)" ] || fail "a socket still listens on 7234 (inode $(listen_ino))"
	[ -z "$(pgrep -u stigmer)" ] || fail "processes of stigmer left: $(pgrep -a -u stigmer)"
	if [ "$ROLE" = deb ]; then
		# debhelper's way: masked, the enablement kept for a reinstall.
		[ "$(readlink /etc/systemd/system/stigmer.service)" = /dev/null ] || fail "not masked after remove"
		[ -L /etc/systemd/system/multi-user.target.wants/stigmer.service ] || fail "the enable link went on remove"
		[ "$(systemctl is-enabled stigmer 2>&1)" = masked ] || fail "is-enabled: $(systemctl is-enabled stigmer 2>&1), want masked"
	else
		wants_link && fail "enable symlinks left: $(find /etc/systemd/system -name stigmer.service)"
	fi
	local f
	for f in /lib/systemd/system/stigmer.service /usr/lib/systemd/system/stigmer.service /usr/bin/stigmer; do
		[ -e "$f" ] && fail "$f still there"
	done
	[ "$ROLE" = deb ] || { systemctl cat stigmer >/dev/null 2>&1 && fail "systemd still knows stigmer.service"; }
	[ "$(cat "$DATA" 2>/dev/null)" = "$TOKEN" ] || fail "$DATA was removed"
	getent passwd stigmer >/dev/null || fail "user stigmer removed"
}

scenario_remove() {
	begin remove
	set_data
	pkg apt-get remove -y stigmer
	check_gone
	grep -qx "$EDIT" "$ENVFILE" || fail "$ENVFILE (edited) removed"
	figure "left: $(ls -d /var/lib/stigmer /var/log/stigmer "$ENVFILE" 2>/dev/null | tr '\n' ' ')user $(id -u stigmer)"
	end
}

# scenario_reinstall: apt install after remove, as dh_installsystemd does it:
# the remove's mask goes, the kept enablement holds, the unit starts.
scenario_reinstall() {
	begin reinstall
	pkg apt install -y "./$NEW_DEB"
	wait_for 30 ready || fail "/readyz not 200 within 30 s of the reinstall"
	[ -e /etc/systemd/system/stigmer.service ] && fail "still masked: $(ls -l /etc/systemd/system/stigmer.service)"
	[ "$(systemctl is-enabled stigmer 2>&1)" = enabled ] || fail "is-enabled: $(systemctl is-enabled stigmer 2>&1), want enabled"
	grep -qx "$EDIT" "$ENVFILE" || fail "the env file lost the edit $EDIT"
	check_running "$NEW_VERSION"
	figure "$(systemctl is-active stigmer), $(systemctl is-enabled stigmer 2>&1), edit kept: $(grep -qx "$EDIT" "$ENVFILE" && echo yes || echo no)"
	end
}

# scenario_purge: no file of stigmer's left; the user and group stay with
# their IDs (a reinstall reuses them; deleted, their IDs could go to the
# next system user, which would own stigmer's leftovers).
scenario_purge() {
	begin purge
	local uid gid left
	uid=$(id -u stigmer) gid=$(getent group stigmer | cut -d: -f3)
	pkg apt-get purge -y stigmer
	[ "$(id -u stigmer 2>/dev/null)" = "$uid" ] || fail "user stigmer (uid $uid) not kept: $(getent passwd stigmer)"
	[ "$(getent group stigmer | cut -d: -f3)" = "$gid" ] || fail "group stigmer (gid $gid) not kept: $(getent group stigmer)"
	left=$(find / -xdev \( -path /proc -o -path /sys -o -path /run \) -prune -o \
		\( -iname '*stigmer*' -o -uid "$uid" -o -gid "$gid" \) -print 2>/dev/null)
	[ -z "$left" ] || fail "left on disk: $(echo "$left" | tr '\n' ' ')"
	dpkg-query -W -f='${Status}' stigmer 2>/dev/null | grep -q 'installed\|config-files' &&
		fail "dpkg still lists stigmer: $(dpkg-query -W -f='${Status}' stigmer)"
	figure "searched / for *stigmer* and uid/gid $uid/$gid: $(echo "$left" | grep -c .) found; user and group kept"
	end
}

# no_fd_store: the service is stopped (which empties the fd store) and will
# start without one, as releases before it did.
NO_FD_STORE=/etc/systemd/system/stigmer.service.d/vmtest-no-fd-store.conf
no_fd_store() {
	systemctl stop stigmer
	mkdir -p "${NO_FD_STORE%/*}"
	printf '[Service]\nFileDescriptorStoreMax=0\n' >"$NO_FD_STORE"
	systemctl daemon-reload
}

# upgrade_case ID STATE SETUP UPGRADE: SETUP puts the old build in (a fresh
# install or a downgrade), enabled and running; the admin then leaves it
# running, stopped or disabled (STATE), edits the env file and adds a data
# file; UPGRADE installs the new build. STATE, the edit and the data must hold.
# shellcheck disable=SC2086 # SETUP and UPGRADE are command lines, split on purpose
upgrade_case() {
	local id=$1 state=$2 p0 t0
	begin "$id"
	PROBE=
	pkg $3 || { end; return; }
	# The running case starts as a release before the fd store did (a unit
	# without FileDescriptorStoreMax=): the upgrade's restart must find the
	# port free and the new server listen by itself (no EADDRINUSE). The
	# drop-in goes before the upgrade, whose daemon-reload drops it.
	[ "$state" != running ] || no_fd_store
	systemctl enable stigmer 2>/dev/null
	systemctl start stigmer
	wait_for 30 ready || fail "old build not ready within 30 s of its install"
	[ "$(version)" = "$OLD_VERSION" ] || fail "old build reports '$(version)', want $OLD_VERSION"
	set_data
	case $state in
	stopped) systemctl stop stigmer ;;
	disabled) systemctl disable stigmer 2>/dev/null ;;
	esac
	p0=$(mainpid)
	t0=$(now)
	if [ "$state" = running ]; then
		rm -f "$NO_FD_STORE"
		prober "/run/vmtest-probe-$id" pkg $4
		# Refusals are expected here (the old server had no fd store), and
		# so are resets at connect (its listener's queue dies with it); a
		# connection that connected must still be answered.
		[ "$PROBE_FAILED" = 0 ] || fail "failed probes across the upgrade: $PROBE"
	else
		pkg $4
	fi
	[ "$(version)" = "$NEW_VERSION" ] || fail "after the upgrade stigmer version is '$(version)', want $NEW_VERSION"
	check_data_kept
	[ "$ROLE" != rpm ] || check_rpmnew
	case $state in
	running | disabled)
		wait_for 30 ready || fail "not ready within 30 s after the upgrade"
		[ "$(mainpid)" != "$p0" ] || fail "main PID $p0 not restarted onto the new binary"
		tr '\0' '\n' <"/proc/$(mainpid)/environ" | grep -qx "$EDIT" ||
			fail "the restarted server's environment lacks $EDIT"
		check_running "$NEW_VERSION"
		;;
	stopped)
		EVERY=1 wait_for 5 listening && fail "the API answers after the upgrade"
		active && fail "started by the upgrade: $(systemctl is-active stigmer)"
		;;
	esac
	if [ "$state" = disabled ]; then
		[ "$(systemctl is-enabled stigmer 2>&1)" = disabled ] || fail "is-enabled: $(systemctl is-enabled stigmer 2>&1), want disabled"
	else
		[ "$(systemctl is-enabled stigmer 2>&1)" = enabled ] || fail "is-enabled: $(systemctl is-enabled stigmer 2>&1), want enabled"
	fi
	figure "$OLD_VERSION -> $(version) in $(since "$t0") s; $(systemctl is-active stigmer), $(systemctl is-enabled stigmer 2>&1); edit and data kept: $(grep -qx "$EDIT" "$ENVFILE" && [ "$(cat "$DATA")" = "$TOKEN" ] && echo yes || echo no)${PROBE:+; probes from an older build without the fd store: $PROBE}"
	end
}

scenario_rpm_erase() {
	begin rpm-erase
	# From an enabled, running service, as an admin would erase it.
	systemctl enable --now stigmer 2>/dev/null
	wait_for 30 ready || fail "not ready before the erase"
	pkg dnf remove -y stigmer
	check_gone
	# rpm owns /usr/share/licenses/stigmer and removes it; /var/lib/stigmer
	# holds data and stays (check_gone).
	[ -e /usr/share/licenses/stigmer ] && fail "/usr/share/licenses/stigmer left after the erase"
	# rpm keeps an edited %config(noreplace) file as .rpmsave.
	figure "left: $(ls -d /var/lib/stigmer /var/log/stigmer /etc/sysconfig/stigmer* 2>/dev/null | tr '\n' ' ')user $(id -u stigmer)"
	end
}

# --- repositories (issue 11) ----------------------------------------------
# The host built signed trees (repo.TestTrees): old, new (old's packages
# too), other-key, tampered-rpm, all with their URLs at /srv/stigmer-repo,
# and the README's blocks as NAME.sh. A release replaces what the server
# serves: serve copies a tree there.
SERVE=/srv/stigmer-repo
serve() {
	rm -rf "$SERVE"
	mkdir -p "${SERVE%/*}"
	cp -a "$IN/repo/$1" "$SERVE"
}
# README_RUN FILE runs the README's block FILE as an operator would, as
# root: sudo is the command itself (the guest has no sudo).
# shellcheck disable=SC2016 # expanded by the child shell, not here
README_RUN=(bash -ec 'sudo() { "$@"; }; . "$1"' readme)
readme() { pkg "${README_RUN[@]}" "$IN/repo/$1.sh"; }
# starts: how often the unit has started (systemd 247 and 252 phrase it apart).
starts() { journalctl -u stigmer -q --no-pager -o cat | grep -cE '^Started (stigmer\.service - )?Stigmer Server'; }

# attempt NAME: run the README's block NAME expecting a refusal; sets OUT
# (its output) and RC.
attempt() {
	run_kept "${README_RUN[@]}" "$IN/repo/$1.sh"
	OUT=$(cat "$PKG_LOG")
}
# refused WHAT PATTERN [warns]: the attempt failed saying PATTERN, and
# changed nothing: the old build still installed and running, same main PID.
# With "warns" it may exit 0: apt treats a bad signature on a repository it
# already knows as a warning, keeps the lists it verified before, and the
# upgrade then has nothing new to install.
refused() {
	local what=$1 pat=$2
	[ "$RC" != 0 ] || [ "${3:-}" = warns ] || fail "$what: the README's command exited 0, want a refusal"
	grep -qE "$pat" <<<"$OUT" || fail "$what: no /$pat/ in its output"
	[ "$(version)" = "$OLD_VERSION" ] || fail "$what: stigmer is now '$(version)', want $OLD_VERSION unchanged"
	[ "$(mainpid)" = "$P0" ] || fail "$what: main PID $P0 is now $(mainpid)"
	REFUSALS="$REFUSALS; $what: exit $RC, $(grep -m1 -E "$pat" <<<"$OUT" | tr -s ' ' | cut -c1-160)"
}

# repo_install ID BLOCK: from nothing installed, the README's install block
# on the old tree.
repo_install() {
	begin "$1"
	serve old
	install_fresh "$OLD_VERSION" "${README_RUN[@]}" "$IN/repo/$2.sh"
	end
}

# repo_upgrade ID BLOCK LIST...: the env file edited and data written, the
# new tree served, the README's upgrade block: the new build runs, started
# once, the edit and data kept; LIST prints the versions the repository
# offers, which must be both.
repo_upgrade() {
	local id=$1 block=$2 p0 s0 n
	shift 2
	begin "$id"
	set_data
	p0=$(mainpid) s0=$(starts)
	serve new
	readme "$block"
	wait_for 30 ready || fail "not ready within 30 s of the upgrade"
	[ "$(mainpid)" != "$p0" ] || fail "main PID $p0 not restarted onto the new binary"
	n=$(($(starts) - s0))
	[ "$n" = 1 ] || fail "the unit started $n times during the upgrade, want once"
	check_running "$NEW_VERSION"
	check_data_kept
	[ "$ROLE" != rpm ] || check_rpmnew
	local offered
	offered=$("$@" 2>/dev/null | grep -c .)
	[ "$offered" = 2 ] || fail "the repository offers $offered versions ($*: $("$@" 2>&1 | tr '\n' ' ')), want 2 (old and new)"
	figure "$OLD_VERSION -> $(version), started $n time(s); edit and data kept; $offered versions offered"
	end
}

scenario_apt_repo_refuse() {
	begin apt-repo-refuse
	P0=$(mainpid) REFUSALS=""
	# A mirror that serves an edited Packages (the new release's, its
	# version raised) and no other copy of it.
	serve new
	local bin=$SERVE/dists/stable/main/binary-amd64
	rm -rf "$bin/Packages.gz" "$bin/Packages.xz" "$bin/by-hash"
	sed -i 's/^Version: .*/Version: 99.0.0/' "$bin/Packages"
	attempt apt-upgrade
	refused "tampered Packages" 'Hash Sum mismatch'
	apt-cache policy stigmer 2>&1 | grep -q '99\.0\.0' && fail "apt-cache policy lists the tampered version 99.0.0"
	serve other-key
	attempt apt-upgrade
	refused "another key" 'The repository is not updated and the previous index files will be used.*NO_PUBKEY' warns
	local cand
	cand=$(apt-cache policy stigmer | awk '$1 == "Installed:" {i = $2} $1 == "Candidate:" {c = $2} END {print (i == c) ? "same" : c}')
	[ "$cand" = same ] || fail "apt's candidate is now $cand, not the installed version: the unverified index was used"
	figure "${REFUSALS#; }"
	end
}

scenario_dnf_repo_refuse() {
	begin dnf-repo-refuse
	P0=$(mainpid) REFUSALS=""
	serve tampered-rpm
	attempt dnf-upgrade
	refused "tampered rpm" 'GPG check FAILED'
	serve new
	rm "$SERVE/repodata/repomd.xml.asc"
	attempt dnf-upgrade
	refused "unsigned repomd.xml" 'GPG signature is not available'
	serve other-key
	attempt dnf-upgrade
	refused "another key" 'repomd.xml GPG signature verification error'
	rpm -q stigmer --qf '%{VERSION}\n' | grep -q . || fail "stigmer no longer installed"
	figure "${REFUSALS#; }"
	end
}

# --- history and alerts (issue 12) ---------------------------------------

# events_json [ARGS...]: `stigmer events --json` as root.
events_json() { /usr/bin/stigmer events --json "$@" 2>/dev/null; }

scenario_events() {
	begin events
	local got n kinds ev
	got=$(stat -c '%a %U' /var/lib/stigmer/history.db 2>&1)
	[ "$got" = "600 stigmer" ] || fail "/var/lib/stigmer/history.db is '$got', want 600 stigmer"
	ev=$(events_json --since 2h)
	n=$(jq '.events | length' <<<"$ev" 2>/dev/null)
	[ "${n:-0}" -gt 0 ] || fail "stigmer events --json lists nothing: $(/usr/bin/stigmer events 2>&1 | tail -n 3 | tr '\n' ' ')"
	# The ends the rows above caused, as systemd reported them to ExecStopPost.
	# SIGSEGV and the watchdog's SIGABRT: the Go runtime prints its trace
	# (kept in crash.log and quoted) and exits 2.
	for want in 'killed by SIGKILL' 'crashed (Go runtime: SIGSEGV' 'watchdog timeout (the server stopped answering for WatchdogSec), then crashed (Go runtime: SIGABRT' 'killed by SIGHUP' 'clean stop' 'timed out starting'; do
		jq -e --arg w "$want" '[.events[] | select(.kind == "server-exit" and (.reason | contains($w)))] | length > 0' <<<"$ev" >/dev/null ||
			fail "no server-exit '$want' in stigmer events"
	done
	jq -e '[.events[] | select(.kind == "runner-exit" and .exit == "signal 9 (killed)")] | length >= 6' <<<"$ev" >/dev/null ||
		fail "fewer than 6 runner-exit 'signal 9 (killed)' (the runners row kills 3 of each)"
	jq -e '[.events[] | select(.kind == "server-exit" and .unclean and (.logs | length) > 0)] | length > 0' <<<"$ev" >/dev/null ||
		fail "no unclean server-exit carries log lines"
	jq -e '[.events[] | select(.kind == "server-exit" and (.reason | contains("SIGSEGV")) and (.logs | index("--- crash trace (/var/log/stigmer/crash.log):")))] | length > 0' <<<"$ev" >/dev/null ||
		fail "the SIGSEGV's server-exit does not quote the crash trace"
	# systemd says only "signal" for the oom row's kill (OOMPolicy=continue):
	# the unit's cgroup OOM kill count tells the OOM killer's SIGKILL apart.
	local oom oomr
	oom=$(jq -r '[.events[] | select(.kind == "server-exit" and (.reason | contains("OOM killer")))] | length' <<<"$ev")
	oomr=$(jq -r '[.events[] | select(.kind == "runner-exit" and (.reason // "" | contains("OOM killer")))] | length' <<<"$ev")
	[ "$oom" -ge 1 ] || fail "the oom row's kill of the server is not named an OOM kill"
	[ "$oomr" -ge 1 ] || fail "the oom-runner row's kill of a runner is not named an OOM kill"
	kinds=$(jq -r '[.events[].kind] | group_by(.) | map("\(.[0]) \(length)") | join(", ")' <<<"$ev")
	local restarts last
	restarts=$(/usr/bin/stigmer server status --json | jq -r '.components[] | select(.name == "server") | .restarts')
	last=$(/usr/bin/stigmer server status --json | jq -r '.components[] | select(.name == "server") | .last_exit')
	[ "${restarts:-0}" -ge 5 ] || fail "server status says the server restarted ${restarts:-?} times; the rows above restarted it at least 5"
	# The same history in Prometheus' exposition, beside the runners' state.
	local m mrestarts
	http /metrics
	m=$HTTP_BODY
	[ "$HTTP_CODE" = 200 ] || fail "GET /metrics answered $HTTP_CODE"
	mrestarts=$(awk '$1 == "stigmer_history_events_total{kind=\"server-restart\"}" {print $2}' <<<"$m")
	[ "$mrestarts" = "$restarts" ] || fail "/metrics has server-restart $mrestarts, status says $restarts"
	for want in "stigmer_build_info{" "version=\"$NEW_VERSION\"" 'stigmer_runner_up{runner="workflow-runner"} 1' 'stigmer_runner_restarts_total{reason="signal",runner="agent-runner"}' 'process_resident_memory_bytes'; do
		grep -qF -- "$want" <<<"$m" || fail "/metrics has no $want"
	done
	# Through the API too, the history is root's and stigmer's only: the
	# server tells the asking user from the kernel's socket table.
	if runuser -u nobody -- /usr/bin/stigmer events --since 10m >/var/tmp/vmtest-events-nobody.log 2>&1; then
		fail "stigmer events as nobody read the history through the API"
	fi
	grep -q 'uid 65534 may not read the history: .*run `sudo stigmer events`' /var/tmp/vmtest-events-nobody.log ||
		fail "as nobody, the API's refusal does not say who and what to run: $(tail -n 1 /var/tmp/vmtest-events-nobody.log)"
	attach /var/tmp/vmtest-events-nobody.log
	# Stopped: the file itself, to root only.
	systemctl stop stigmer
	/usr/bin/stigmer events --since 10m >/var/tmp/vmtest-events-file.log 2>&1 ||
		fail "stigmer events with the server stopped failed: $(tail -n 2 /var/tmp/vmtest-events-file.log)"
	grep -q 'read /var/lib/stigmer/history.db' /var/tmp/vmtest-events-file.log || fail "stopped: events did not say it read the file"
	grep -q 'clean stop' /var/tmp/vmtest-events-file.log || fail "stopped: the stop just made is not listed"
	if runuser -u nobody -- /usr/bin/stigmer events >/var/tmp/vmtest-events-nobody2.log 2>&1; then
		fail "stigmer events as nobody read the stopped server's history"
	fi
	grep -q 'run this as root' /var/tmp/vmtest-events-nobody2.log || fail "as nobody, no fix given: $(tail -n 1 /var/tmp/vmtest-events-nobody2.log)"
	attach /var/tmp/vmtest-events-file.log
	attach /var/tmp/vmtest-events-nobody2.log
	systemctl start stigmer
	wait_for 30 ready || fail "not ready again after the start"
	figure "$n events ($kinds); OOM kills named as such: server $oom, runner $oomr; server restarts $restarts (status and /metrics), last end: $last"
	end
}

ALERTS=/var/tmp/fake-alert-sinks.jsonl
# sent SINK PATTERN: deliveries to SINK (webhook, mail) whose body has PATTERN.
sent() { grep -F "\"sink\":\"$1\"" "$ALERTS" 2>/dev/null | grep -cF -- "$2"; }
# hooked KIND: webhook deliveries of alerts of that kind.
hooked() { jq -r 'select(.sink == "webhook") | .body | fromjson | .kind' "$ALERTS" 2>/dev/null | grep -cx -- "$1"; }
# alerts_settle: wait until the deliveries file stops growing (2 s quiet).
alerts_settle() {
	local a b
	a=$(wc -c <"$ALERTS")
	while nap 2; b=$(wc -c <"$ALERTS"); [ "$a" != "$b" ]; do a=$b; done
}

scenario_alerts() {
	begin alerts
	local p0 p1 t0 tsent r rp i
	setsid "$IN/fake-alert-sinks" -out "$ALERTS" >/var/tmp/fake-alert-sinks.log 2>&1 </dev/null &
	attach /var/tmp/fake-alert-sinks.log
	attach "$ALERTS"
	wait_for 20 eval '{ exec {F}<>/dev/tcp/127.0.0.1/9099; } 2>/dev/null && exec {F}>&-' || fail "the fake webhook does not listen"
	# A new history, so that the rows above (which alerted to the journal)
	# do not hold these alerts back; the interval short enough to see the
	# summary.
	systemctl stop stigmer
	mv /var/lib/stigmer/history.db /var/tmp/history.db.before-alerts
	cp -p "$ENVFILE" /var/tmp/envfile.before-alerts
	cat >>"$ENVFILE" <<-'EOF'
		STIGMER_ALERT_WEBHOOK_URL=http://127.0.0.1:9099/hook/s3cr3t-token
		STIGMER_ALERT_SMTP_SERVER=127.0.0.1:2525
		STIGMER_ALERT_SMTP_FROM=stigmer@vmtest.example.com
		STIGMER_ALERT_SMTP_TO=ops@example.com
		STIGMER_ALERT_INTERVAL=45s
	EOF
	systemctl start stigmer
	wait_for 30 ready || fail "not ready with the alert settings"
	[ "$(sent webhook '')" = 0 ] || fail "alerts before any failure: $(cat "$ALERTS")"

	# kill -9: one alert, on both sinks, with the unit, result and log lines.
	p0=$(mainpid) t0=$(now)
	kill -9 "$p0"
	wait_for 30 eval '[ "$(hooked server-died)" -ge 1 ] && [ "$(sent mail "died: killed by SIGKILL")" -ge 1 ]' ||
		fail "no alert on both sinks 30 s after kill -9 (webhook $(hooked server-died), mail $(sent mail died:))"
	tsent=$(since "$t0")
	local body
	body=$(grep -F '"sink":"webhook"' "$ALERTS" | head -n 1 | jq -r .body)
	for want in '"unit":"stigmer.service"' '"result":"signal"' '"exit_status":"KILL"' 'server ready'; do
		grep -qF -- "$want" <<<"$body" || fail "the webhook's alert lacks $want: $body"
	done
	grep -F '"sink":"mail"' "$ALERTS" | head -n 1 | jq -r .body | grep -q 'Last log lines' || fail "the mail has no log lines"
	wait_for 40 new_main "$p0" || fail "not restarted after kill -9"
	wait_for 30 ready || fail "not ready after kill -9"

	# Again within the interval: held back (the journal says so), no post.
	p1=$(mainpid)
	kill -9 "$p1"
	wait_for 40 new_main "$p1" || fail "not restarted after the second kill -9"
	wait_for 30 ready || fail "not ready after the second kill -9"
	[ "$(hooked server-died)" = 1 ] || fail "the second kill -9 within the interval was posted too ($(hooked server-died) server-died alerts)"
	journalctl -u stigmer -q --no-pager | grep -q 'alert held back' || fail "the journal does not say the second alert was held back"

	# A runner killed 5 times (the default: 5 restarts in 10 minutes): one alert.
	rp=$(runner_pid workflow-runner)
	for i in 1 2 3 4 5; do
		kill -9 "$rp" 2>/dev/null
		wait_for 30 runner_back workflow-runner "$rp" || { fail "workflow-runner not back after kill $i"; break; }
		rp=$RP_PID
	done
	wait_for 20 eval '[ "$(hooked runner-crashing)" -ge 1 ]' || fail "no runner-crashing alert after 5 kills"

	# The held-back server alert, summed up once its interval is over.
	wait_for 90 eval '[ "$(hooked summary)" -ge 1 ]' || fail "no summary of the held-back alert within 90 s"
	alerts_settle
	local died crash sum mails
	died=$(hooked server-died) crash=$(hooked runner-crashing) sum=$(hooked summary) mails=$(sent mail '')
	[ "$crash" = 1 ] || fail "$crash runner-crashing alerts for 5 kills, want 1"
	[ "$sum" = 1 ] || fail "$sum summaries, want 1"
	[ "$(jq -r 'select(.sink == "webhook") | .body | fromjson | select(.kind == "summary") | .held_back' "$ALERTS")" = 1 ] ||
		fail "the summary does not say 1 alert was held back"
	[ "$mails" = 3 ] || fail "$mails mails, want 3 (server died, runner crashing, summary)"

	# A clean stop alerts nobody; ExecStopPost has run when stop returns.
	systemctl stop stigmer
	[ "$(sent webhook '')" = $((died + crash + sum)) ] || fail "the clean stop sent an alert: $(tail -n 1 "$ALERTS")"
	[ "$(sent mail '')" = "$mails" ] || fail "the clean stop sent a mail"
	local journaled secret
	journaled=$(journalctl -u stigmer -p alert -q --no-pager -o cat | grep -c .)
	secret=$(journalctl -u stigmer -q --no-pager | grep -c s3cr3t)
	[ "$journaled" -ge 3 ] || fail "$journaled journal entries at priority alert, want 3 or more"
	[ "$secret" = 0 ] || fail "the webhook's token is in the journal $secret times"
	figure "kill -9: alert on webhook and mail ${tsent} s after; second kill held back, summed up once; 5 runner kills: $crash alert; clean stop: none; journal -p alert: $journaled; token logged: $secret"
	cp -p /var/tmp/envfile.before-alerts "$ENVFILE"
	rm -f /var/tmp/history.db.before-alerts # the stigmer user's: purge must find nothing of it
	systemctl start stigmer
	wait_for 30 ready || fail "not ready after restoring the env file"
	pkill -f fake-alert-sinks
	end
}

# --- the phases ----------------------------------------------------------

# only ROW: whether to run ROW. A developer's shortcut: STIGMER_VM_ONLY on the
# host (vmtest.env's ONLY) names the rows to run; install always runs, and
# the rows left out have no result, so the run fails and cannot pass for a
# whole one.
only() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }

systemctl is-system-running --wait >/dev/null 2>&1
out "VMT BOOT $(now) systemd $(systemctl --version | awk 'NR == 1 {print $2}')"
log "role $ROLE phase $PHASE, $(systemctl is-system-running) at uptime $(now)"

cd "$IN" || exit 1
case "$ROLE:$PHASE" in
deb:1)
	begin install
	install_fresh "$NEW_VERSION" apt install -y "./$NEW_DEB"
	end
	only runners && scenario_runners
	only segv-runner && scenario_segv_runner
	only kill9 && scenario_kill9 kill9
	only backlog && scenario_backlog
	only listen-change && scenario_listen_change
	only segv && scenario_segv
	only watchdog && scenario_watchdog
	only oom && scenario_oom
	only oom-runner && scenario_oom_runner
	only stop && scenario_stop
	only term && scenario_term
	only hup && scenario_hup
	only timeout && scenario_timeout
	only doctor && scenario_doctor
	only security && scenario_security
	only events && scenario_events
	only alerts && scenario_alerts
	cat /proc/sys/kernel/random/boot_id >/var/lib/vmtest-phase1
	out "VMT END"
	systemctl reboot
	;;
deb:2)
	only reboot && scenario_reboot
	only remove && scenario_remove
	only reinstall && scenario_reinstall
	only purge && scenario_purge
	# Each case's setup uses dpkg (a fresh install, then downgrades); the
	# upgrade itself is apt, as an operator runs it. The env file is edited
	# and the older build ships another default, so both ask dpkg's conffile
	# question; with no terminal (pkg's stdin is /dev/null) the README's
	# options answer it: keep the edit, the new default as .dpkg-dist.
	conf="-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"
	only upgrade && upgrade_case upgrade running "dpkg -i --force-confdef --force-confold $OLD_DEB" "apt install -y $conf ./$NEW_DEB"
	only upgrade-stopped && upgrade_case upgrade-stopped stopped "dpkg -i --force-confdef --force-confold $OLD_DEB" "apt install -y $conf ./$NEW_DEB"
	only upgrade-disabled && upgrade_case upgrade-disabled disabled "dpkg -i --force-confdef --force-confold $OLD_DEB" "apt install -y $conf ./$NEW_DEB"
	# From nothing, as an operator who adds the repository.
	apt-get purge -y stigmer >/dev/null 2>&1
	only apt-repo-install && repo_install apt-repo-install apt-install
	only apt-repo-refuse && scenario_apt_repo_refuse
	only apt-repo-upgrade && repo_upgrade apt-repo-upgrade apt-upgrade apt-cache madison stigmer
	out "VMT END"
	systemctl poweroff
	;;
rpm:1)
	begin rpm-install
	# Debian's rpm database is empty: the stand-in provides what a RHEL base
	# system would (/bin/sh, shadow-utils, systemd), so that the stigmer
	# rpm's Requires are checked, not skipped with --nodeps.
	if pkg dnf install -y "./$STANDIN_RPM"; then
		install_fresh "$OLD_VERSION" dnf install -y "./$OLD_RPM"
		rpm -V stigmer >/var/tmp/vmtest-rpm-V.log 2>&1 || { fail "rpm -V stigmer: $(tr '\n' ';' </var/tmp/vmtest-rpm-V.log)"; }
	fi
	end
	only rpm-kill9 && scenario_kill9 rpm-kill9
	only rpm-upgrade && upgrade_case rpm-upgrade running true "dnf upgrade -y ./$NEW_RPM"
	only rpm-upgrade-stopped && upgrade_case rpm-upgrade-stopped stopped "rpm -U --oldpackage $OLD_RPM" "dnf upgrade -y ./$NEW_RPM"
	only rpm-upgrade-disabled && upgrade_case rpm-upgrade-disabled disabled "rpm -U --oldpackage $OLD_RPM" "dnf upgrade -y ./$NEW_RPM"
	only rpm-erase && scenario_rpm_erase
	only dnf-repo-install && repo_install dnf-repo-install dnf-install
	only dnf-repo-refuse && scenario_dnf_repo_refuse
	only dnf-repo-upgrade && repo_upgrade dnf-repo-upgrade dnf-upgrade dnf -q repoquery --showduplicates stigmer
	out "VMT END"
	systemctl poweroff
	;;
*)
	out "VMT RESULT role FAIL unknown role:phase $ROLE:$PHASE"
	systemctl poweroff
	;;
esac
