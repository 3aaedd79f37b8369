#!/usr/bin/env bash
# Prepares the previous release for the upgrade test (e2e/tests/upgrade.rs), idempotently:
# its chart, CRD and samples taken out of git history, and its `sextant` binary built
# from that commit's source with that commit's Cargo.lock.
#
#   scripts/previous-release.sh          prepare it (about 0.01 s when cached) and print
#                                        the directory
#   scripts/previous-release.sh dir      print the directory only
#
# The release is the commit in tests/fixtures/previous-release/COMMIT (full hash), the
# one the API compatibility fixtures were taken from. Cache, keyed by that commit:
#   ${SEXTANT_CACHE:-~/.cache/sextant}/previous-release/<commit>/
#     src/        `git archive` of the commit (source, chart, CRD, samples)
#     bin/sextant its binary (debug profile without debug info)
#     BUILD_SECONDS
#   ${SEXTANT_CACHE}/previous-release/target/   cargo's target directory for these builds,
#     kept so that the next release's build reuses the compiled dependencies. It is not
#     the main target directory: building there would replace target/debug/sextant.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${SEXTANT_CACHE:-$HOME/.cache/sextant}/previous-release"
commit="$(tr -d '[:space:]' < "$root/tests/fixtures/previous-release/COMMIT")"
if [[ ! "$commit" =~ ^[0-9a-f]{40}$ ]]; then
  echo "previous-release: tests/fixtures/previous-release/COMMIT must hold one full commit hash" >&2
  exit 1
fi
dir="$cache/$commit"
if [[ "${1:-}" == dir ]]; then
  echo "$dir"
  exit 0
fi
if [[ -x "$dir/bin/sextant" && -f "$dir/src/charts/sextant/Chart.yaml" ]]; then
  echo "$dir"
  exit 0
fi

if ! git -C "$root" cat-file -e "$commit^{commit}" 2>/dev/null; then
  echo "previous-release: commit $commit is not in this clone's history;" \
    "the upgrade test builds the previous release from it (fetch it, or unshallow the clone)" >&2
  exit 1
fi
mkdir -p "$cache"
tmp="$(mktemp -d "$cache/.prepare.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src" "$tmp/bin"
git -C "$root" archive "$commit" | tar -x -C "$tmp/src"
echo "previous-release: building sextant at ${commit:0:12} (once per release)" >&2
start=$(date +%s)
(
  cd "$tmp/src"
  # --locked: exactly the dependencies that release shipped with.
  CARGO_TARGET_DIR="$cache/target" CARGO_PROFILE_DEV_DEBUG=false \
    cargo build --locked --quiet -p sextant --bin sextant
)
cp "$cache/target/debug/sextant" "$tmp/bin/sextant"
echo $(( $(date +%s) - start )) > "$tmp/BUILD_SECONDS"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "previous-release: built in $(cat "$dir/BUILD_SECONDS") s" >&2
echo "$dir"
