#!/bin/bash
# plan: Debian's nginx and Caddy terminating TLS with the shipped examples and a CA made here: 421 until STIGMER_ALLOWED_HOSTS names the host, then /readyz and /metrics 200 through both; another Host 421 (nginx) or Caddy's own empty 200; STIGMER_ALLOWED_HOSTS=https://x exits 78, not restarted
# guests: rpm12
#
# The examples as the package installs them (/usr/share/doc/stigmer/
# examples, here from the rpm), set up as their comments say with the
# row's own CA and certificate for stigmer.test: nginx on 8443, Caddy on
# 9443 (Caddy's automatic HTTPS takes :80 for its redirects, so nginx's
# default site goes). The guest image has nginx and caddy, not started at
# boot (the rpm guest's: Debian's packages; the RHEL family has no Caddy
# without EPEL). Needs the new build running (after rpm-upgrade); leaves the
# service as it found it and both proxies stopped.
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"

EX=/usr/share/doc/stigmer/examples
TLS=/etc/vmtest-tls
# through PROXYPORT PATH [CURL ARGS...]: GET https://stigmer.test:PORT/PATH
# through a proxy on this machine, checked against the row's CA; sets CODE,
# BODY and RC (curl's exit status).
through() {
	local port=$1 path=$2
	shift 2
	RC=0
	BODY=$(curl -sS --max-time 10 --cacert "$TLS/ca.pem" --resolve "stigmer.test:$port:127.0.0.1" \
		-w '\n%{http_code}' "$@" "https://stigmer.test:$port$path" 2>"$SCRATCH/curl.err") || RC=$?
	CODE=${BODY##*$'\n'} BODY=${BODY%$'\n'*}
}
# expect PORT PATH WANT [CURL ARGS...]: the answer through the proxy has code WANT.
expect() {
	local port=$1 path=$2 want=$3
	shift 3
	through "$port" "$path" "$@"
	[ "$CODE" = "$want" ] || fail "https://stigmer.test:$port$path $*: $CODE (curl $RC: $(cat "$SCRATCH/curl.err")), want $want: ${BODY:0:200}"
}

# Every installed Debian has localhost in /etc/hosts (the installer writes
# it); the guest image has no /etc/hosts, and Caddy's admin endpoint,
# localhost:2019, would be looked up in DNS, which the guest has not.
grep -qw localhost /etc/hosts 2>/dev/null || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >>/etc/hosts
for f in nginx-stigmer.conf Caddyfile; do
	[ -s "$EX/$f" ] || fail "$EX/$f is not installed"
done
mkdir -p "$TLS"
{
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=vmtest CA" -days 2 \
		-keyout "$TLS/ca.key" -out "$TLS/ca.pem"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=stigmer.test \
		-keyout "$TLS/key.pem" -out "$TLS/csr.pem"
	openssl x509 -req -in "$TLS/csr.pem" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" -CAcreateserial -days 2 \
		-extfile <(echo subjectAltName=DNS:stigmer.test) -out "$TLS/cert.pem"
} 2>"$SCRATCH/openssl.log"
attach "$SCRATCH/openssl.log"
chgrp caddy "$TLS/key.pem" # Debian's caddy.service runs as caddy
chmod 0640 "$TLS/key.pem"

sed -e 's/listen 443 ssl;/listen 8443 ssl;/' -e 's/listen \[::\]:443 ssl;/listen [::]:8443 ssl;/' \
	-e 's/server_name stigmer.example.com;/server_name stigmer.test;/' \
	-e "s#/etc/ssl/certs/stigmer.example.com.pem#$TLS/cert.pem#" -e "s#/etc/ssl/private/stigmer.example.com.key#$TLS/key.pem#" \
	"$EX/nginx-stigmer.conf" >/etc/nginx/sites-available/stigmer
ln -sf /etc/nginx/sites-available/stigmer /etc/nginx/sites-enabled/stigmer
rm -f /etc/nginx/sites-enabled/default
sed -e 's/^stigmer.example.com {/stigmer.test:9443 {/' \
	-e "s#tls /etc/ssl/certs/stigmer.example.com.pem /etc/ssl/private/stigmer.example.com.key#tls $TLS/cert.pem $TLS/key.pem#" \
	"$EX/Caddyfile" >/etc/caddy/Caddyfile
grep -q "listen 8443 ssl;" /etc/nginx/sites-available/stigmer || fail "the nginx example's listen line changed: $(grep listen "$EX/nginx-stigmer.conf")"
grep -q "^stigmer.test:9443 {" /etc/caddy/Caddyfile || fail "the Caddyfile's site line changed: $(grep '{' "$EX/Caddyfile")"
nginx -t >"$SCRATCH/nginx-t.log" 2>&1 || fail "nginx -t: $(tail -n 2 "$SCRATCH/nginx-t.log")"
caddy validate --config /etc/caddy/Caddyfile >"$SCRATCH/caddy-validate.log" 2>&1 || fail "caddy validate: $(tail -n 2 "$SCRATCH/caddy-validate.log")"
attach "$SCRATCH/caddy-validate.log"
systemctl start nginx caddy || fail "systemctl start nginx caddy: $(systemctl is-failed nginx caddy | tr '\n' ' '): $(journalctl -u caddy -u nginx -q --no-pager -o cat -n 3 | tr '\n' ';')"
wait_for 20 listening 8443 || fail "nginx does not listen on 8443"
wait_for 20 listening 9443 || fail "caddy does not listen on 9443"

# Before the operator names the host: refused, as the examples warn.
for port in 8443 9443; do expect "$port" /readyz 421; done

cp -p "$ENVFILE" "$SCRATCH/env"
echo STIGMER_ALLOWED_HOSTS=stigmer.test >>"$ENVFILE"
systemctl restart stigmer
wait_for 30 ready || fail "not ready with STIGMER_ALLOWED_HOSTS=stigmer.test"
for port in 8443 9443; do
	expect "$port" /readyz 200
	jq -e '.ready == true' <<<"$BODY" >/dev/null || fail ":$port/readyz says $BODY"
	expect "$port" /metrics 200
	grep -qx 'stigmer_ready 1' <<<"$BODY" || fail ":$port/metrics has no 'stigmer_ready 1'"
done
# Another name: nginx passes it on and stigmer refuses it, naming the
# variable; Caddy has no site for it and answers itself, an empty 200
# (the request never reaches stigmer); a TLS name it has no certificate
# for fails the handshake.
expect 8443 /readyz 421 -H 'Host: other.test'
[[ $BODY == *STIGMER_ALLOWED_HOSTS* ]] || fail "nginx, Host other.test: the 421 does not name STIGMER_ALLOWED_HOSTS: $BODY"
expect 9443 /readyz 200 -H 'Host: other.test'
[ -z "$BODY" ] || fail "caddy, Host other.test: a body, so it reached something: $BODY"
RC=0
curl -sS --max-time 10 --cacert "$TLS/ca.pem" --resolve other.test:9443:127.0.0.1 -o /dev/null https://other.test:9443/readyz 2>"$SCRATCH/curl.err" || RC=$?
[ "$RC" = 35 ] || fail "caddy, TLS name other.test: curl exited $RC, want 35 (handshake refused): $(cat "$SCRATCH/curl.err")"

# A bad value: exit 78 at start, no restart, the journal names it.
n0=$(prop NRestarts) since=$(date '+%Y-%m-%d %H:%M:%S')
sed -i 's#^STIGMER_ALLOWED_HOSTS=stigmer.test$#STIGMER_ALLOWED_HOSTS=https://x#' "$ENVFILE"
if systemctl restart stigmer 2>/dev/null; then fail "systemctl restart with STIGMER_ALLOWED_HOSTS=https://x succeeded"; fi
st=$(prop ExecMainStatus) state=$(systemctl is-active stigmer 2>/dev/null) || :
[ "$st" = 78 ] || fail "the start with https://x exited $st, want 78"
[ "$state" = failed ] || fail "after exit 78 the unit is $state, want failed (RestartPreventExitStatus=78)"
[ "$(prop NRestarts)" = "$n0" ] || fail "NRestarts $n0 -> $(prop NRestarts): restarted after exit 78"
journalctl -u stigmer -q --no-pager -o cat --since "$since" | grep -qF 'STIGMER_ALLOWED_HOSTS="https://x"' ||
	fail "the journal does not name STIGMER_ALLOWED_HOSTS=\"https://x\""

cp -p "$SCRATCH/env" "$ENVFILE"
restart_service
systemctl stop nginx caddy
figure "421 before, then /readyz and /metrics 200 through nginx (:8443) and Caddy (:9443); Host other.test: nginx 421, Caddy its own empty 200; https://x: exit $st, $state, NRestarts $n0"
