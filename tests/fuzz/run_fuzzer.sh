#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time on a temporary copy of its seeds, so the
# repository is never modified. Used by the ctest tests labelled 'fuzz' (tests/fuzz/CMakeLists.txt).
#
#   run_fuzzer.sh --fuzzer BIN --name NAME --seconds N --corpus DIR --artifacts DIR
#                 [--seed-tool BIN] [-- extra libFuzzer flags...]
#
# Seeds: DIR/NAME/* (checked in), DIR/regressions/NAME/* (inputs that once crashed), and what
# `BIN NAME <tmp> --large` generates. Crashes, leaks, timeouts and OOMs are saved in the
# artifacts directory as crash-*/leak-*/timeout-*/oom-*; reproduce one with `BIN <file>`.
set -euo pipefail

die() { printf 'run_fuzzer: error: %s\n' "$*" >&2; exit 2; }

FUZZER="" NAME="" SECONDS_="" CORPUS="" ARTIFACTS="" SEED_TOOL=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --fuzzer) FUZZER="$2"; shift 2 ;;
    --name) NAME="$2"; shift 2 ;;
    --seconds) SECONDS_="$2"; shift 2 ;;
    --corpus) CORPUS="$2"; shift 2 ;;
    --artifacts) ARTIFACTS="$2"; shift 2 ;;
    --seed-tool) SEED_TOOL="$2"; shift 2 ;;
    --) shift; break ;;
    *) die "unknown argument: $1" ;;
  esac
done
[[ -x "$FUZZER" && -n "$NAME" && -n "$SECONDS_" && -n "$CORPUS" && -n "$ARTIFACTS" ]] ||
  die "usage: run_fuzzer.sh --fuzzer BIN --name NAME --seconds N --corpus DIR --artifacts DIR [--seed-tool BIN] [-- flags]"

# Absolute paths: the fuzzer runs in the temporary directory.
abs() { if [[ "$1" = /* ]]; then printf '%s' "$1"; else printf '%s/%s' "$PWD" "$1"; fi; }
FUZZER="$(abs "$FUZZER")" CORPUS="$(abs "$CORPUS")" ARTIFACTS="$(abs "$ARTIFACTS")"
[[ -z "$SEED_TOOL" ]] || SEED_TOOL="$(abs "$SEED_TOOL")"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/taskring-fuzz-$NAME.XXXXXX")"
# Scratch space for the fuzzers' own files (WAL segments), on tmpfs when there is one; removed
# even when the fuzzer crashes (which skips its own cleanup).
SCRATCH_BASE=/dev/shm
[[ -d "$SCRATCH_BASE" && -w "$SCRATCH_BASE" ]] || SCRATCH_BASE="$WORK"
SCRATCH="$(mktemp -d "$SCRATCH_BASE/taskring-fuzz-scratch.XXXXXX")"
trap 'rm -rf "$WORK" "$SCRATCH"' EXIT
export TASKRING_FUZZ_TMPDIR="$SCRATCH"
mkdir -p "$WORK/corpus" "$ARTIFACTS"

copied=0
for dir in "$CORPUS/$NAME" "$CORPUS/regressions/$NAME"; do
  [[ -d "$dir" ]] || continue
  prefix="$(basename "$dir")"
  for f in "$dir"/*; do
    [[ -f "$f" ]] || continue
    cp -- "$f" "$WORK/corpus/$prefix-$(basename "$f")"
    copied=$((copied + 1))
  done
done
generated=0
if [[ -n "$SEED_TOOL" ]]; then
  mkdir -p "$WORK/generated"
  "$SEED_TOOL" "$NAME" "$WORK/generated" --large
  for f in "$WORK/generated"/*; do
    [[ -e "$f" ]] || continue  # a target whose seeds are all checked in generates none
    cp -- "$f" "$WORK/corpus/generated-$(basename "$f")"
    generated=$((generated + 1))
  done
fi
echo "run_fuzzer: $NAME: $copied checked-in seeds, $generated generated, ${SECONDS_}s"

# libFuzzer writes new inputs into the first corpus directory (the temporary one).
cd "$WORK"
rc=0
"$FUZZER" -max_total_time="$SECONDS_" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$ARTIFACTS/" "$@" "$WORK/corpus" || rc=$?
if [[ "$rc" -ne 0 ]]; then
  echo "run_fuzzer: $NAME FAILED (exit $rc). Artifacts in $ARTIFACTS:"
  ls -l "$ARTIFACTS" || true
  echo "run_fuzzer: reproduce with: $FUZZER <artifact>; keep it as a seed by copying it to" \
    "$CORPUS/regressions/$NAME/"
fi
exit "$rc"
