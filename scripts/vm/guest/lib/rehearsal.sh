# shellcheck shell=bash disable=SC2034 # its variables are the rows'
# rehearsal.sh: the site `go tool mage release:rehearse` published, as a
# host meets it: the first release installed through the README's blocks
# of its tag (the keyring package first), the next one, signed by the next
# key, as an upgrade (the key rotation), the first again as a downgrade.
# The host put under IN/repo/rehearsal: each published tag's Pages site as
# it deployed it (vFIRST/, vNEXT/), the first tag's README blocks (NAME.sh,
# REPO pointed at /srv/stigmer-repo, FPR as that tag has it) and
# rehearsal.env: FIRST and NEXT (the versions), FIRST_KEY and NEXT_KEY (the
# fingerprints of the keys that sign them).

# shellcheck source=package.sh
. "$LIB/package.sh"
# shellcheck source=repo.sh
. "$LIB/repo.sh"
REHEARSAL=$IN/repo/rehearsal
# shellcheck source=/dev/null
. "$REHEARSAL/rehearsal.env"

# bare_host: nothing of stigmer left, as on a host that never had it: the
# packages (and their keyring package) removed, the repository's source,
# keys and cached state, the user and the data (the rpm guest's RHEL base
# stand-in stays).
bare_host() {
	local pkgs
	if [ "$ROLE" = deb ]; then
		pkgs=$(dpkg-query -W -f '${Package} ${db:Status-Status}\n' 'stigmer*' 2>/dev/null | awk '$2 != "not-installed" {print $1}')
		# shellcheck disable=SC2086 # a list of names
		[ -z "$pkgs" ] || pkg apt-get purge -y $pkgs
		rm -rf /etc/apt/sources.list.d/stigmer.sources* /usr/share/keyrings/stigmer-archive-keyring.gpg /var/lib/apt/lists/*stigmer-repo*
	else
		pkgs=$(rpm -q --qf '%{NAME}\n' stigmer stigmer-release | grep -v ' ') || :
		# shellcheck disable=SC2086 # a list of names
		[ -z "$pkgs" ] || pkg dnf remove -y $pkgs
		pkgs=$(rpm -q gpg-pubkey | grep -v ' ') || :
		# shellcheck disable=SC2086 # a list of names
		[ -z "$pkgs" ] || pkg rpm -e $pkgs
		rm -rf /etc/yum.repos.d/stigmer.repo* /etc/pki/rpm-gpg/RPM-GPG-KEY-stigmer /var/cache/dnf /etc/sysconfig/stigmer* /var/lib/stigmer /var/log/stigmer
		if getent passwd stigmer >/dev/null; then userdel stigmer; fi
		if getent group stigmer >/dev/null; then groupdel stigmer; fi
	fi
	rm -rf "$SERVE"
}

# fingerprints FILE prints the fingerprints of the primary keys in the
# keyring FILE (binary or armored), one a line.
fingerprints() {
	gpg --show-keys --with-colons "$1" 2>/dev/null | awk -F: '$1 == "pub" {p = 1} $1 == "fpr" && p {print $10; p = 0}'
}

# signer FILE prints the key ids (16 hex digits) of the signatures in the
# detached signature FILE.
signer() {
	gpg --list-packets "$1" 2>/dev/null | awk '$1 == ":signature" {for (i = 1; i < NF; i++) if ($i == "keyid") print toupper($(i + 1))}'
}

# the_keys FILE: FILE holds the two keys, the first's and the next's.
the_keys() {
	local got
	got=$(fingerprints "$1" | sort | tr '\n' ' ')
	[ "$got" = "$(printf '%s\n' "$FIRST_KEY" "$NEXT_KEY" | sort | tr '\n' ' ')" ] ||
		fail "$1 holds the keys '$got', want the first release's and the next one's ($FIRST_KEY $NEXT_KEY)"
}

# signed_by_next FILE: the served repository's signature FILE is the next
# key's alone: a host that trusts only the first key cannot read it.
signed_by_next() {
	local got
	got=$(signer "$1" | tr '\n' ' ')
	[ "$got" = "${NEXT_KEY: -16} " ] || fail "$1 is signed by '$got', want the next key's ${NEXT_KEY: -16} alone"
}

# quiet_apt: apt said no warning and no error (a key it lacks, a source
# configured twice, an index it could not verify) in the last package
# command's output.
quiet_apt() {
	if grep -qE '^(W|E):|NO_PUBKEY' "$PKG_LOG"; then
		fail "apt warned: $(grep -E '^(W|E):|NO_PUBKEY' "$PKG_LOG" | head -n 3 | tr '\n' ' ')"
	fi
}

# rehearsal_install BLOCK: on a bare host, the first release's site served,
# the README's install block BLOCK of that tag: the keyring package, then
# stigmer, enabled and running.
rehearsal_install() {
	bare_host
	serve "rehearsal/v$FIRST"
	install_fresh "$FIRST" "${README_RUN[@]}" "$REHEARSAL/$1.sh"
}

# rehearsal_change WANT CMD...: the env file edited and data written, CMD
# (an upgrade or a downgrade) installs WANT: running it, started once, the
# edit and the data kept. Sets CHANGE (what the figures say).
rehearsal_change() {
	local want=$1 p0 s0 n t0 was
	shift
	was=$(version)
	set_data
	p0=$(mainpid) s0=$(start_lines) t0=$(now)
	pkg "$@" || return 1
	wait_for 30 ready || fail "not ready within 30 s of: $*"
	[ "$(mainpid)" != "$p0" ] || fail "main PID $p0 not restarted onto $want"
	n=$(($(start_lines) - s0))
	[ "$n" = 1 ] || fail "the unit started $n times, want once"
	check_running "$want"
	[ "$(systemctl is-enabled stigmer 2>&1)" = enabled ] || fail "is-enabled: $(systemctl is-enabled stigmer 2>&1)"
	[ "$(data_kept)" = yes ] || fail "the env file's edit or the data was lost"
	CHANGE="$was -> $(version) in $(since "$t0") s, started $n time(s), edit and data kept: $(data_kept)"
}
