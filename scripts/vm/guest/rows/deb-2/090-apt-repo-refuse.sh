#!/bin/bash
# plan: apt-get update+upgrade refused, nothing changed: tampered Packages (hash), another key (gpgv's NO_PUBKEY, sqv's Missing key)
# tags: toolchain
set -eu
# shellcheck source=../../lib/row.sh
. "${0%/*}/../../lib/row.sh"
# shellcheck source=../../lib/package.sh
. "$LIB/package.sh"
# shellcheck source=../../lib/repo.sh
. "$LIB/repo.sh"

REFUSE_PID=$(mainpid) REFUSALS=""
# A mirror that serves an edited Packages (the new release's, its version
# raised) and no other copy of it.
serve new
bin=$SERVE/dists/stable/main/binary-amd64
rm -rf "$bin/Packages.gz" "$bin/Packages.xz" "$bin/by-hash"
sed -i 's/^Version: .*/Version: 99.0.0/' "$bin/Packages"
attempt apt-upgrade
refused "tampered Packages" 'Hash Sum mismatch'
if apt-cache policy stigmer 2>&1 | grep -q '99\.0\.0'; then fail "apt-cache policy lists the tampered version 99.0.0"; fi
serve other-key
attempt apt-upgrade
# apt verifies with gpgv up to 2.x (NO_PUBKEY), with sqv from 3.0 ("Missing key").
refused "another key" 'The repository is not updated and the previous index files will be used.*(NO_PUBKEY|Missing key)' warns
cand=$(apt-cache policy stigmer | awk '$1 == "Installed:" {i = $2} $1 == "Candidate:" {c = $2} END {print (i == c) ? "same" : c}')
[ "$cand" = same ] || fail "apt's candidate is now $cand, not the installed version: the unverified index was used"
figure "$REFUSALS"
