#!/bin/bash
# plan: stigmer doctor: exit 0 as root and as nobody (says what it cannot read); env mode, bad env line, a misspelt variable (also --env-file, and the journal's warning after a restart), data and log dir owners, binary mode, disabled, user namespaces off, image without docker, stop, taken port, masked, full disk, no user each FAIL with the fix; API beyond loopback and a kill -9 (restarts, last crash) WARN; exit 0 once restored; time of a run
#
# `stigmer doctor` on the installed, running service, as root and as a user
# who may not read the env file; then one thing broken at a time, each
# restored before the next, as operators and the VM rows have broken them:
# the check that looks at it fails with the repair as its fix. It ends with
# everything restored and passing, the service running on the same
# configuration.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/doctor.sh
. "$LIB/doctor.sh"

cp -p "$ENVFILE" "$SCRATCH/env"
doctor_run
troot=$DOC_T
[ "$DOC_RC" = 0 ] || fail "doctor exited $DOC_RC on the healthy service: $(grep -E '^FAIL' <<<"$DOC_OUT" | tr '\n' ';')"

# Skips are no failure; nobody may not read the 0600 env file.
tick
n=$T rc=0
json=$(cd / && runuser -u nobody -- /usr/bin/stigmer doctor --json 2>&1) || rc=$?
tick
tnobody=$(((T - n) / 100)).$(((T - n) % 100 / 10))
[ "$rc" = 0 ] || fail "as nobody, doctor exited $rc: $(jq -r '.checks[] | select(.status == "fail") | "\(.name): \(.verdict)"' <<<"$json" 2>&1 | tr '\n' ';')"
IFS=$'\t' read -r uid cfg unit < <(jq -r '[.uid, (.checks[] | select(.name == "config") | .status), (.checks[] | select(.name == "unit") | .status)] | @tsv' <<<"$json" 2>/dev/null) ||
	fail "as nobody, doctor --json printed no uid, config and unit: $json"
[ "${uid:-}" = 65534 ] || fail "as nobody, doctor reports uid '${uid:-}'"
if [ "${cfg:-}" != skip ] || [[ $json != *"cannot read $ENVFILE as uid 65534: permission denied; run as root"* ]]; then
	fail "as nobody, the config check is '${cfg:-}' without saying it cannot read $ENVFILE"
fi

chmod 0644 "$ENVFILE"
broken env-mode env-file "is mode 0644, want 0600" "chmod 0600 $ENVFILE"
chmod 0600 "$ENVFILE"

echo 'STIGMER_LLM_PROVIDER openai' >>"$ENVFILE"
n=$(grep -c '' "$ENVFILE")
broken env-line config "$ENVFILE:$n: \"STIGMER_LLM_PROVIDER openai\" has no '='" "line $n"
cp -p "$SCRATCH/env" "$ENVFILE"

typo_named

chown root:root /var/lib/stigmer
broken data-owner data-dir "owned by root:root, want stigmer:stigmer" "chown -R stigmer:stigmer /var/lib/stigmer"
chown stigmer:stigmer /var/lib/stigmer

chown root:root /var/log/stigmer
broken log-owner log-dir "owned by root:root, want stigmer:stigmer" "chown -R stigmer:stigmer /var/log/stigmer"
chown stigmer:stigmer /var/log/stigmer

mode=$(stat -c %a /usr/bin/stigmer)
chmod 0700 /usr/bin/stigmer
broken binary-mode binary "/usr/bin/stigmer is mode 0700: the stigmer user cannot run it" "chmod 0755 /usr/bin/stigmer"
chmod "$mode" /usr/bin/stigmer

systemctl disable --quiet stigmer 2>/dev/null
broken disabled enabled "disabled: it will not start at boot" "systemctl enable stigmer"
systemctl enable --quiet stigmer 2>/dev/null

# The packaged unit has PrivateUsers=yes: with user namespaces off, every
# start fails at step NAMESPACE. The running service is not touched by the
# sysctl.
if [ "$(prop PrivateUsers)" = yes ]; then
	n=$(</proc/sys/user/max_user_namespaces)
	echo 0 >/proc/sys/user/max_user_namespaces
	broken userns-off userns "user namespaces are off (user.max_user_namespaces=0)" "PrivateUsers=no"
	echo "$n" >/proc/sys/user/max_user_namespaces
else
	fail "the unit's PrivateUsers= is '$(prop PrivateUsers)', want yes"
fi

# A runner image with no docker on the guest (none is installed).
if command -v docker >/dev/null; then
	fail "the guest has a docker CLI: the no-docker case cannot be made"
else
	echo 'STIGMER_AGENT_RUNNER_IMAGE=stigmer/agent-runner:vmtest' >>"$ENVFILE"
	broken no-docker docker "STIGMER_AGENT_RUNNER_IMAGE=stigmer/agent-runner:vmtest needs docker, which is not on the service's PATH" "install docker"
	cp -p "$SCRATCH/env" "$ENVFILE"
fi

# The API beyond loopback: doctor cannot read firewall rules, and says so
# (a warning; the running server is not restarted).
printf '%s\n' STIGMER_LISTEN=0.0.0.0:7234 STIGMER_ALLOW_NON_LOOPBACK=1 >>"$ENVFILE"
doctor_run
doctor_says WARN firewall "listens on 0.0.0.0:7234 beyond this machine and has no authentication" "ufw status" && DOC_NAMED="$DOC_NAMED non-loopback"
cp -p "$SCRATCH/env" "$ENVFILE"

# A crash: systemd's restart count and the history's last crash, with this
# kill's time (earlier rows crashed it too).
n=$(prop NRestarts) pp=$(mainpid) t=$(date +%s)
kill -KILL "$pp"
if wait_for 30 back_from "$pp"; then
	doctor_run
	doctor_says WARN restarts "systemd restarted the server $((n + 1)) time(s) since the last start by hand" "journalctl -u stigmer" && DOC_NAMED="$DOC_NAMED kill9-restarts"
	doctor_says WARN last-crash "killed by SIGKILL" "journalctl -u stigmer --since" && DOC_NAMED="$DOC_NAMED+last-crash"
	line=$(grep '^WARN  last-crash' <<<"$DOC_OUT") || :
	if ! [[ $line =~ \(([0-9T:+Z-]+)\) ]] || [ "$(date -d "${BASH_REMATCH[1]}" +%s)" -lt "$t" ]; then
		fail "the last crash doctor names is not this kill's (at $(date -d "@$t" -Is)): $line"
	fi
else
	fail "not restarted and ready within 30 s of kill -9"
fi

systemctl stop stigmer
broken stopped active "inactive (dead)" "systemctl start stigmer"
doctor_fails api "no answer from http://127.0.0.1:7234/readyz" "systemctl start stigmer" && DOC_NAMED="$DOC_NAMED+api"
# Another program on the port (the guide's "port already in use"):
# perl-base has sockets; the guest has no python or socat.
perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1:7234", Listen => 5, ReuseAddr => 1) or die "listen: $!\n"; sleep 300' &
pp=$!
if wait_for 10 listening; then
	broken port port "is taken by pid $pp \`perl -MIO::Socket::INET" "STIGMER_LISTEN"
else
	fail "the perl listener on 7234 did not come up"
fi
kill "$pp"
# It ends by the SIGTERM just sent: wait returns 143.
wait "$pp" 2>/dev/null || :

systemctl mask --quiet stigmer 2>/dev/null
broken masked unit "stigmer.service is masked" "systemctl unmask stigmer"
systemctl unmask --quiet stigmer 2>/dev/null

# A full data directory: a 16 MiB tmpfs over it, the service stopped.
mount -t tmpfs -o "size=16m,mode=0750,uid=$(id -u stigmer),gid=$(id -g stigmer)" vmtest-full /var/lib/stigmer
broken disk-full disk "on the filesystem of /var/lib/stigmer: below 100 MiB" "free space there"
umount /var/lib/stigmer

# No stigmer user (as a botched migration leaves it); the fix doctor gives
# brings it back. If the uid differs, the unit's StateDirectory= and
# LogsDirectory= make systemd chown them on start; the last doctor run
# checks the owners.
uid=$(id -u stigmer)
userdel stigmer 2>/dev/null
broken no-user user "no user stigmer" "systemd-sysusers /usr/lib/sysusers.d/stigmer.conf"
systemd-sysusers /usr/lib/sysusers.d/stigmer.conf
[ "$(id -u stigmer 2>&1)" = "$uid" ] || log "the stigmer user came back as uid $(id -u stigmer 2>&1), was $uid"
restart_service

doctor_run
[ "$DOC_RC" = 0 ] || fail "doctor exited $DOC_RC once everything was restored: $(grep -E '^FAIL' <<<"$DOC_OUT" | tr '\n' ';')"
active || fail "not active at the end: $(systemctl is-active stigmer)"
cmp -s "$SCRATCH/env" "$ENVFILE" || fail "$ENVFILE differs from before the row"
figure "doctor as root ${troot} s (restored: ${DOC_T} s), as nobody ${tnobody} s (unit: ${unit:-}); named:$DOC_NAMED; warnings: $(grep -c '^WARN' <<<"$DOC_OUT")"
