# shellcheck shell=bash disable=SC2034 # its variables are the rows'
# doctor.sh: running `stigmer doctor` and reading its verdicts.

# doctor_run: `stigmer doctor` as root; sets DOC_OUT (its output), DOC_RC
# and DOC_T (its length in seconds).
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

# broken NAME CHECK VERDICT FIX: run doctor now; it must fail CHECK with
# VERDICT and FIX (doctor_fails). NAME joins DOC_NAMED, the list of what
# doctor named.
DOC_NAMED=""
broken() {
	doctor_run
	if doctor_fails "$2" "$3" "$4"; then DOC_NAMED="$DOC_NAMED $1"; fi
}

# typo_named: a misspelt variable appended to the env file, as operators
# write them (STIGMER_LISTN=127.0.0.1:1): doctor fails on it with the line,
# the closest name and the rename, and so does doctor --env-file of a
# copy; after a restart the server names it in a warning in the journal
# and still serves on 7234, the default. Restores the env file and the
# service.
typo_named() {
	local n copy=$SCRATCH/env.copy since
	cp -p "$ENVFILE" "$SCRATCH/env.before-typo"
	echo STIGMER_LISTN=127.0.0.1:1 >>"$ENVFILE"
	n=$(grep -c '' "$ENVFILE")
	broken typo variables "$ENVFILE:$n: STIGMER_LISTN is not a stigmer variable and is ignored; did you mean STIGMER_LISTEN?" \
		"rename STIGMER_LISTN to STIGMER_LISTEN on line $n, then sudo systemctl restart stigmer"
	cp "$ENVFILE" "$copy"
	DOC_RC=0
	DOC_OUT=$(/usr/bin/stigmer doctor --env-file "$copy" 2>&1) || DOC_RC=$?
	doctor_fails variables "$copy:$n: STIGMER_LISTN is not a stigmer variable and is ignored; did you mean STIGMER_LISTEN?" \
		"sudoedit $copy: rename STIGMER_LISTN to STIGMER_LISTEN on line $n" && DOC_NAMED="$DOC_NAMED+env-file-copy"
	since=$(date '+%Y-%m-%d %H:%M:%S')
	systemctl restart stigmer
	wait_for 30 ready || fail "with the typo: not ready on 7234 within 30 s of the restart"
	# Whether journalctl exits 1 on no match differs by release: read its output.
	journalctl -u stigmer -q --no-pager -o cat -p warning --since "$since" --grep 'did you mean STIGMER_LISTEN' | grep -q . ||
		fail "with the typo: no warning naming it in journalctl -u stigmer -p warning since the restart"
	cp -p "$SCRATCH/env.before-typo" "$ENVFILE"
	systemctl restart stigmer
	wait_for 30 ready || fail "not ready within 30 s of the restart without the typo"
}
