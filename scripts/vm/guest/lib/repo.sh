# shellcheck shell=bash
# repo.sh: the README's "Install from the repository" blocks, word for word,
# against the signed trees the host built (repo.TestTrees): old, new (old's
# packages too), other-key and tampered-rpm, all with their URLs at
# /srv/stigmer-repo, and the README's blocks as IN/repo/NAME.sh. A release
# replaces what the server serves: serve copies a tree there.

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

# repo_install BLOCK: from nothing installed, the README's install block
# BLOCK on the old tree.
repo_install() {
	serve old
	install_fresh "$OLD_VERSION" "${README_RUN[@]}" "$IN/repo/$1.sh"
}

# attempt NAME: run the README's block NAME expecting a refusal; sets OUT
# (its output) and RC.
attempt() {
	run_kept "${README_RUN[@]}" "$IN/repo/$1.sh"
	OUT=$(cat "$PKG_LOG")
}

# refused WHAT PATTERN [warns]: the attempt failed saying PATTERN, and
# changed nothing: the old build still installed and running as main PID
# REFUSE_PID (the row sets it). With "warns" it may exit 0: apt treats a bad
# signature on a repository it already knows as a warning, keeps the lists
# it verified before, and the upgrade then has nothing new to install.
# Appends "WHAT: exit RC, the line" to REFUSALS.
refused() {
	local what=$1 pat=$2
	[ "$RC" != 0 ] || [ "${3:-}" = warns ] || fail "$what: the README's command exited 0, want a refusal"
	grep -qE "$pat" <<<"$OUT" || fail "$what: no /$pat/ in its output"
	[ "$(version)" = "$OLD_VERSION" ] || fail "$what: stigmer is now '$(version)', want $OLD_VERSION unchanged"
	[ "$(mainpid)" = "$REFUSE_PID" ] || fail "$what: main PID $REFUSE_PID is now $(mainpid)"
	REFUSALS="${REFUSALS:+$REFUSALS; }$what: exit $RC, $(grep -m1 -E "$pat" <<<"$OUT" | tr -s ' ' | cut -c1-160)"
}

# repo_upgrade BLOCK LIST...: the env file edited and data written, the new
# tree served, the README's upgrade block BLOCK: the new build runs, started
# once, the edit and data kept; LIST prints the versions the repository
# offers, which must be both.
repo_upgrade() {
	local block=$1 p0 s0 n offered
	shift
	set_data
	p0=$(mainpid) s0=$(start_lines)
	serve new
	readme "$block"
	wait_for 30 ready || fail "not ready within 30 s of the upgrade"
	[ "$(mainpid)" != "$p0" ] || fail "main PID $p0 not restarted onto the new binary"
	n=$(($(start_lines) - s0))
	[ "$n" = 1 ] || fail "the unit started $n times during the upgrade, want once"
	check_running "$NEW_VERSION"
	check_data_kept
	# grep -c prints 0 and exits 1 when the list is empty: a count.
	offered=$("$@" 2>/dev/null | grep -c .) || :
	[ "$offered" = 2 ] || fail "the repository offers $offered versions ($*: $("$@" 2>&1 | tr '\n' ' ')), want 2 (old and new)"
	figure "$OLD_VERSION -> $(version), started $n time(s); edit and data kept; $offered versions offered"
}
