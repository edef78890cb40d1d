#!/usr/bin/env bash
# Builds taskring and runs its test suite in four stages:
#   plain  build/       the whole suite
#   asan   build-asan/  the whole suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   tsan   build-tsan/  the tests labelled 'concurrency' under ThreadSanitizer
#   fuzz   build-fuzz/  the libFuzzer targets (tests/fuzz, clang), each run for a bounded time
# Every stage runs even if an earlier one failed; the exit status is non-zero if any failed.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: tools/test.sh [--quick | --stage NAME] [--label L]

Installs what is missing, builds, and runs the tests: plain, then ASan+UBSan, then TSan
(concurrency tests only), then the fuzzers (clang + libFuzzer; skipped when clang++ is missing).

  --quick       plain build and suite only (for development)
  --stage NAME  only that stage: plain, asan, tsan or fuzz
  --label L     only tests whose labels match L (ctest -L L), in every stage
  -h, --help    show this help

Environment: JOBS (parallel build and test jobs, default 2); ASAN_OPTIONS, UBSAN_OPTIONS and
TSAN_OPTIONS, when set, replace the defaults below; FUZZ_SECONDS (seconds each fuzzer runs in
the fuzz stage, default 30).
EOF
}

log() { printf 'test: %s\n' "$*"; }
die() { printf 'test: error: %s\n' "$*" >&2; exit 2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
QUICK=0
ONLY_STAGE=""
LABEL=""
JOBS="${JOBS:-2}"
export JOBS

while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1; shift ;;
    --stage) [[ $# -ge 2 ]] || die "--stage needs a value"; ONLY_STAGE="$2"; shift 2 ;;
    --stage=*) ONLY_STAGE="${1#*=}"; shift ;;
    --label) [[ $# -ge 2 ]] || die "--label needs a value"; LABEL="$2"; shift 2 ;;
    --label=*) LABEL="${1#*=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

case "$ONLY_STAGE" in
  ""|plain|asan|tsan|fuzz) ;;
  *) die "--stage must be plain, asan, tsan or fuzz, not '$ONLY_STAGE'" ;;
esac
[[ "$QUICK" -eq 1 && -n "$ONLY_STAGE" ]] && die "--quick and --stage cannot be combined"

# want STAGE: whether this run includes STAGE (--quick: plain only; --stage: that one only).
want() {
  if [[ -n "$ONLY_STAGE" ]]; then
    [[ "$1" == "$ONLY_STAGE" ]]
  elif [[ "$QUICK" -eq 1 ]]; then
    [[ "$1" == plain ]]
  else
    return 0
  fi
}

# Sanitizer defaults (a caller's own settings win). They only affect sanitized binaries.
: "${ASAN_OPTIONS:=detect_leaks=1:abort_on_error=1}"
: "${UBSAN_OPTIONS:=print_stacktrace=1:halt_on_error=1}"
: "${TSAN_OPTIONS:=halt_on_error=1:second_deadlock_stack=1}"
export ASAN_OPTIONS UBSAN_OPTIONS TSAN_OPTIONS

RESULTS=()
FAILED=0
FAILURE_DIRS=()

# run_ctest DIR STAGE_LABEL ALLOW_EMPTY: ctest in DIR, limited to STAGE_LABEL (if any) and
# --label (if given). When no test matches: returns 125 if ALLOW_EMPTY is 1, else 124. Commands run under
# the CTEST_PREFIX array (e.g. setarch) when it is set.
CTEST_PREFIX=()
run_ctest() {
  local dir="$1" stage_label="$2" allow_empty="$3"
  local filter=()
  [[ -n "$stage_label" ]] && filter+=(-L "$stage_label")
  [[ -n "$LABEL" ]] && filter+=(-L "$LABEL")
  local count
  count="$(ctest --test-dir "$dir" -N "${filter[@]}" 2>/dev/null | sed -n 's/^Total Tests: *//p')"
  if [[ "${count:-0}" -eq 0 ]]; then
    log "no tests in $dir${filter[*]:+ match ${filter[*]}}"
    [[ "$allow_empty" -eq 1 ]] && return 125
    return 124
  fi
  local rc=0
  "${CTEST_PREFIX[@]}" ctest --test-dir "$dir" --output-on-failure -j "$JOBS" "${filter[@]}" \
    2>&1 | tee "$dir/test-sh-ctest.log" || rc=$?
  if [[ "$rc" -ne 0 ]] && grep -q 'unexpected memory mapping' "$dir/test-sh-ctest.log"; then
    log "TSan could not start (\"unexpected memory mapping\"): the kernel's mmap ASLR entropy is"
    log "too high for this TSan. As root: sysctl -w vm.mmap_rnd_bits=28 (now $(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo '?'))"
  fi
  return "$rc"
}

# failure_report DIR: the name and the last lines of output of each test that failed in DIR's
# last ctest run. Printed again just above the summary because CI keeps only a run's tail.
failure_report() {
  local dir="$1" failed="$1/Testing/Temporary/LastTestsFailed.log"
  local full="$1/Testing/Temporary/LastTest.log"
  [[ -s "$failed" ]] || return 0
  local name output
  while IFS= read -r name; do
    name="${name#*:}"
    [[ -f "$full" ]] || continue
    output="$(awk -v name="$name" '
      $0 ~ ("^[0-9]+/[0-9]+ Test: " name "$") { mine = 1; next }
      mine && /^<end of output>$/ { exit }
      mine && started { print; next }
      mine && /^Output:$/ { getline; started = 1 }' "$full")"
    log "--- $name failed in $dir; the lines of its output that name a failure:"
    grep -E -A3 'Failure|FAILED|[Ee]rror|Traceback|assert|Timeout|timed out' <<<"$output" | head -n 40 || true
    log "--- and its last 15 lines:"
    tail -n 15 <<<"$output"
  done <"$failed"
}

# stage NAME BUILD_DIR STAGE_LABEL ALLOW_EMPTY [setup.sh args...]: build, then run ctest (in
# BUILD_DIR/CTEST_SUBDIR when CTEST_SUBDIR is set).
CTEST_SUBDIR=""
stage() {
  local name="$1" dir="$2" stage_label="$3" allow_empty="$4"
  shift 4
  local start=$SECONDS rc=0 what
  log "=== stage $name: build ($dir) ==="
  if ! bash "$ROOT/tools/setup.sh" --build-dir "$dir" "$@"; then
    what="build failed"
    rc=1
  else
    log "=== stage $name: ctest${stage_label:+ -L $stage_label}${LABEL:+ -L $LABEL} ==="
    run_ctest "$dir${CTEST_SUBDIR:+/$CTEST_SUBDIR}" "$stage_label" "$allow_empty" || rc=$?
    case "$rc" in
      0) what="passed" ;;
      125) what="no matching tests (skipped)"; rc=0 ;;
      124) what="FAILED: no tests selected" ;;
      *)
        what="FAILED (ctest exit $rc)"
        # Only a ctest run that failed tests has a failed-test log of its own to report.
        FAILURE_DIRS+=("$dir${CTEST_SUBDIR:+/$CTEST_SUBDIR}")
        ;;
    esac
  fi
  local line
  line="$(printf 'stage %-5s %-30s %5ds  %s' "$name" "$what" $((SECONDS - start)) "$dir")"
  RESULTS+=("$line")
  log "$line"
  [[ "$rc" -eq 0 ]] || FAILED=1
}

TOTAL_START=$SECONDS

# No test selected in the plain or ASan stage (an empty suite, or a --label that matches
# nothing) is an error; the TSan stage may select nothing (see there).
if want plain; then
  stage plain "$ROOT/build" "" 0
fi

if want asan; then
  stage asan "$ROOT/build-asan" "" 0 --sanitize address
fi

if want tsan; then
  # TSan maps its shadow memory at fixed addresses; with the high mmap ASLR entropy of newer
  # kernels (vm.mmap_rnd_bits > 28) it dies with "FATAL: ThreadSanitizer: unexpected memory
  # mapping". Running the tests with ASLR off (setarch -R) avoids that.
  if setarch "$(uname -m)" -R true 2>/dev/null; then
    CTEST_PREFIX=(setarch "$(uname -m)" -R)
  else
    log "setarch -R is not permitted here; running TSan tests with ASLR on"
  fi
  # If no test is labelled 'concurrency' (or none also matches --label), this stage reports
  # "no matching tests" and passes.
  # Only what those tests need is built (the concurrency_tests target, tests/CMakeLists.txt).
  stage tsan "$ROOT/build-tsan" concurrency 1 --sanitize thread --target concurrency_tests
  CTEST_PREFIX=()
fi

if want fuzz; then
  # libFuzzer targets (tests/fuzz/README.md): clang only, in a build of their own. The main
  # suite is not built there (TASKRING_BUILD_TESTS=OFF), so ctest runs in build-fuzz/tests/fuzz.
  # If --label matches no fuzz test, this stage reports "no matching tests" and passes.
  CLANGXX="$(command -v clang++ || true)"
  if [[ -z "$CLANGXX" ]]; then
    line="$(printf 'stage %-5s %-30s %5ds  %s' fuzz "skipped: clang++ not found" 0 "$ROOT/build-fuzz")"
    log "$line (install clang to run the fuzzers)"
    RESULTS+=("$line")
  else
    CTEST_SUBDIR=tests/fuzz
    stage fuzz "$ROOT/build-fuzz" fuzz 1 --sanitize address \
      --cmake-arg "-DCMAKE_CXX_COMPILER=$CLANGXX" \
      --cmake-arg -DTASKRING_BUILD_FUZZERS=ON \
      --cmake-arg -DTASKRING_BUILD_TESTS=OFF \
      --cmake-arg "-DTASKRING_FUZZ_SECONDS=${FUZZ_SECONDS:-30}" \
      --target tests/fuzz/all
    CTEST_SUBDIR=""
  fi
fi

if [[ "${#FAILURE_DIRS[@]}" -gt 0 ]]; then
  log "=== failed tests ==="
  for dir in "${FAILURE_DIRS[@]}"; do
    failure_report "$dir"
  done
fi
log "=== summary ($((SECONDS - TOTAL_START))s) ==="
for line in "${RESULTS[@]}"; do
  log "$line"
done
if [[ "$FAILED" -ne 0 ]]; then
  log "FAILED"
  exit 1
fi
log "all stages passed"
