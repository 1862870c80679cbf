# shellcheck shell=bash disable=SC2034 # its variables are the rows'
# service.sh: what the rows read of stigmer.service and its API, and the
# checks most rows share: the service running as installed, and a kill of
# its main process that systemd must answer with a restart.

prop() { systemctl show -p "$1" --value stigmer 2>/dev/null; }
mainpid() { prop MainPID; }
active() { [ "$(systemctl is-active stigmer 2>/dev/null)" = active ]; }
inactive() { ! active; }
gone() { [ ! -e "/proc/$1" ]; }
version() { /usr/bin/stigmer version 2>/dev/null | awk 'NR == 1 {print $2}'; }
# existing PATH... prints those of the PATHs that exist, each followed by a space.
existing() {
	local p
	for p; do
		if [ -e "$p" ]; then printf '%s ' "$p"; fi
	done
}
# mode_owner PATH prints "MODE USER:GROUP" of PATH, or "missing".
mode_owner() { stat -c '%a %U:%G' "$1" 2>/dev/null || echo missing; }
# unit_pids prints the PIDs in stigmer.service's cgroup (v1 or v2).
unit_pids() { grep -l 'stigmer\.service' /proc/[0-9]*/cgroup 2>/dev/null | cut -d/ -f3; }
wants_link() { find /etc/systemd/system -name stigmer.service 2>/dev/null | grep -q .; }

# journaled IDENTIFIER: the unit's journal has lines tagged IDENTIFIER.
journaled() { journalctl -u stigmer -t "$1" -q --no-pager | grep -q .; }
# journal_count ERE [JOURNALCTL ARGS...] prints how many of the unit's journal
# messages match ERE.
journal_count() {
	local ere=$1
	shift
	# grep -c prints 0 and exits 1 when nothing matches: a count, not an error.
	journalctl -u stigmer -q --no-pager -o cat "$@" | grep -cE -- "$ere" || :
}
# start_lines prints how many times systemd logged the unit's start, in
# either form: 247 and older log the description alone, 252 puts the unit
# name first ("Started stigmer.service - Stigmer Server ...").
START_PLAIN='^Started Stigmer Server'
START_UNIT='^Started stigmer[.]service - Stigmer Server'
start_lines() { journal_count "$START_PLAIN|$START_UNIT"; }

# http PATH: GET http://127.0.0.1:7234PATH (or $API_PORT) through bash's
# /dev/tcp (no fork: a curl costs 0.3 s of emulated CPU); sets HTTP_CODE
# (000: no answer) and HTTP_BODY.
http() {
	local fd line
	HTTP_CODE=000 HTTP_BODY=
	{ exec {fd}<>"/dev/tcp/127.0.0.1/${API_PORT:-7234}"; } 2>/dev/null || return 1
	if ! printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$1" 1>&"$fd" 2>/dev/null; then
		exec {fd}>&-
		return 1
	fi
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
# listening [PORT]: anything answers on 127.0.0.1:PORT (default: the API's
# 7234, as a restarted server would).
listening() {
	local fd
	{ exec {fd}<>"/dev/tcp/127.0.0.1/${1:-7234}"; } 2>/dev/null || return 1
	exec {fd}>&-
}
# listen_ino prints the inode of the socket listening on 7234 (none: empty):
# the same inode before and after a restart is the same socket, kept by
# systemd's fd store.
listen_ino() { awk '$2 ~ /:1C42$/ && $4 == "0A" {print $10}' /proc/net/tcp /proc/net/tcp6 2>/dev/null; }

# runner_read NAME sets RUNNER_PID, RUNNER_STATE and RUNNER_RESTARTS of the
# runner NAME from GET /api/v1/status, read with bash's regexes (no fork);
# returns 1 when the server does not answer or lists no such runner.
runner_read() {
	RUNNER_PID="" RUNNER_STATE="" RUNNER_RESTARTS=""
	http /api/v1/status || return 1
	[[ $HTTP_BODY =~ \{[^{}]*\"name\":\"$1\"[^{}]*\} ]] || return 1
	local obj=${BASH_REMATCH[0]}
	if [[ $obj =~ \"pid\":([0-9]+) ]]; then RUNNER_PID=${BASH_REMATCH[1]}; fi
	if [[ $obj =~ \"state\":\"([a-z]+)\" ]]; then RUNNER_STATE=${BASH_REMATCH[1]}; fi
	if [[ $obj =~ \"restarts\":([0-9]+) ]]; then RUNNER_RESTARTS=${BASH_REMATCH[1]}; fi
}
# runner_back NAME OLDPID: the runner runs again under a PID other than OLDPID.
runner_back() {
	runner_read "$1" || return 1
	[ -n "$RUNNER_PID" ] && [ "$RUNNER_PID" != 0 ] && [ "$RUNNER_PID" != "$2" ] &&
		{ [ "$RUNNER_STATE" = running ] || [ "$RUNNER_STATE" = up ]; }
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
# back_from OLDPID: restarted (new_main) and ready.
back_from() { new_main "$1" && ready; }
# stopped: the unit is inactive, not failed nor on its way back.
stopped() { [ "$(systemctl is-active stigmer 2>/dev/null)" = inactive ]; }

restart_service() {
	systemctl start stigmer || fail "systemctl start failed"
	wait_for 30 ready || fail "/readyz not 200 within 30 s of systemctl start"
}

# check_running VERSION: the three processes as stigmer, /readyz, version.
check_running() {
	local want=$1 p args n=0 bad="" status
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
	# systemctl status exits 3 when the unit is not active: the checks below
	# then say what is missing.
	status=$(systemctl status stigmer --no-pager -l 2>/dev/null) || :
	for args in internal-server internal-workflow-runner internal-agent-runner; do
		grep -q "/usr/bin/stigmer $args" <<<"$status" || fail "systemctl status shows no $args"
	done
	ready || fail "/readyz is not 200"
	[ "$(version)" = "$want" ] || fail "stigmer version prints '$(/usr/bin/stigmer version 2>&1 | head -n1)', want 'stigmer $want'"
}

# check_dirs: the data and log directories, the user and the group.
check_dirs() {
	local got
	got=$(mode_owner /var/lib/stigmer)
	[ "$got" = "750 stigmer:stigmer" ] || fail "/var/lib/stigmer is '$got', want 750 stigmer:stigmer"
	got=$(mode_owner /var/log/stigmer)
	[ "$got" = "755 stigmer:stigmer" ] || fail "/var/log/stigmer is '$got', want 755 stigmer:stigmer"
	getent passwd stigmer >/dev/null || fail "no user stigmer"
	getent group stigmer >/dev/null || fail "no group stigmer"
}

# oom_kill PID: make PID the OOM killer's choice and trigger it (sysrq f).
oom_kill() {
	echo 1000 >"/proc/$1/oom_score_adj"
	echo f >/proc/sysrq-trigger
}

# kill_main SIGNAL TIMEOUT: signal the main PID (OOM: have the kernel's OOM
# killer kill it), expect a new one after RestartSec, NRestarts +1, /readyz
# 200 again. Sets KILL_T0 (uptime at the kill) and KILL_T1 (uptime once the
# unit was active again: systemd has logged the start by then).
kill_main() {
	local sig=$1 limit=$2 p0 n0 start delay rs ready_after
	p0=$(mainpid) n0=$(prop NRestarts)
	rs=$(prop RestartUSec)
	[ "$rs" = 10s ] || fail "RestartSec is $rs, the guide promises 10s"
	[ "$p0" != 0 ] || { fail "no main PID before the kill"; return 1; }
	KILL_T0=$(now)
	if [ "$sig" = OOM ]; then oom_kill "$p0"; else kill "-$sig" "$p0"; fi
	# Fork-free until the server answers again: the old PID goes, systemd
	# waits RestartSec, the new server gets ready. Then systemd is asked.
	wait_for "$limit" gone "$p0" || { fail "PID $p0 still there $limit s after SIG$sig"; return 1; }
	if ! wait_for "$limit" ready; then
		fail "/readyz not 200 within $limit s of the old PID's end (state $(prop ActiveState)/$(prop SubState), MainPID $(mainpid))"
		return 1
	fi
	ready_after=$(since "$KILL_T0")
	# systemd reads READY=1 from its socket a moment after the server sent
	# it (and /readyz turned 200): under load the unit may still be
	# activating for that moment.
	wait_for 10 new_main "$p0" || fail "after the restart: state $(prop ActiveState), MainPID $(mainpid) (was $p0)"
	KILL_T1=$(now)
	start=$(prop ExecMainStartTimestampMonotonic)
	delay=$(awk -v s="$start" -v t="$KILL_T0" 'BEGIN {printf "%.1f", s / 1e6 - t}')
	ge "$delay" 10 || fail "restarted ${delay} s after the kill, before RestartSec=10s"
	[ "$(prop NRestarts)" = $((n0 + 1)) ] || fail "NRestarts went $n0 -> $(prop NRestarts), want +1"
	if [ -e "/proc/$p0" ]; then fail "old main PID $p0 still exists"; fi
	figure "main PID $p0 -> $(mainpid): started ${delay} s after the kill, /readyz 200 after ${ready_after} s; NRestarts $n0 -> $(prop NRestarts)"
}

# stays_down PID NRESTARTS: PID ends, nothing answers on the port for 13 s
# (past RestartSec=10), then the unit is inactive with NRestarts unchanged.
# Each check that does not hold is a fail; it returns 0.
stays_down() {
	local p0=$1 n0=$2
	if ! wait_for 30 gone "$p0"; then
		fail "PID $p0 still there 30 s later"
		return 0
	fi
	# The unit ends once ExecStopPost= (the history and alert report) has
	# run; until then systemd still holds the stored socket, as during any
	# stop. From then on nothing may listen before RestartSec is over.
	EVERY=0.5 wait_for 30 stopped || fail "not inactive 30 s after PID $p0 ended: $(systemctl is-active stigmer)"
	if EVERY=1 wait_for 13 listening; then fail "the API answers again within 13 s (RestartSec=10)"; fi
	[ "$(systemctl is-active stigmer)" = inactive ] || fail "is-active: $(systemctl is-active stigmer), want inactive"
	[ "$(prop NRestarts)" = "$n0" ] || fail "NRestarts $n0 -> $(prop NRestarts)"
	[ -z "$(pgrep -u stigmer)" ] || fail "processes of stigmer left: $(pgrep -a -u stigmer)"
}
