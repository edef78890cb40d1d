#!/usr/bin/env bash
# Installs what taskring needs to build (Debian packages, only those missing), then configures
# and builds it with CMake + Ninja. Safe to run again: a second run installs nothing and only
# rebuilds what changed.
#
#   tools/setup.sh                      plain build in build/ (RelWithDebInfo)
#   tools/setup.sh --sanitize address   ASan + UBSan build in build-asan/
#   tools/setup.sh --sanitize thread    TSan build in build-tsan/
#   tools/setup.sh --no-build           install packages and configure only
#   tools/setup.sh --cmake-arg -DX=Y    pass an extra argument to cmake (repeatable)
set -euo pipefail

# Debian packages the build (and later: its tests, benchmarks, comparisons) needs. One list, so
# additions (prometheus, redis-server, beanstalkd, gnuplot, ...) go here.
PACKAGES=(
  cmake
  ninja-build
  g++
  clang
  libboost-dev
  libconcurrentqueue-dev
  libbenchmark-dev
  libgtest-dev
  prometheus-cpp-dev
  nlohmann-json3-dev
  # the demo's and docs' HTTP examples
  curl
  # monitoring tests: a real Prometheus + promtool, the dashboard/rule checker's YAML reader,
  # and gnuplot to render each dashboard panel to a PNG
  prometheus
  python3-yaml
  gnuplot-nox
  # the load tool's peers: a Redis client library, and the servers it is compared against
  libhiredis-dev
  redis-server
  beanstalkd
  # the HTTP gateway's benchmark (tools/bench-http.sh): an HTTP load tool
  wrk
  # the install test builds a C consumer of libtaskring.so with `pkg-config --cflags --libs`
  pkgconf
  # the Python package (python/): cffi loads libtaskring.so; its tests use pytest, its example
  # Flask; a venv with pip installs it offline (--no-build-isolation); its benchmark compares
  # with redis-py
  python3-cffi
  python3-pytest
  python3-flask
  python3-venv
  python3-pip
  python3-setuptools
  python3-wheel
  python3-redis
  # the web page of `taskring http` is tested in a real browser: Debian's chromium, headless,
  # driven through chromedriver by selenium
  chromium
  chromium-driver
  python3-selenium
  # `taskring relay` / `taskring bridge` (docs/scale-out.md): the AMQP 0-9-1 client rabbitmq-c;
  # their tests and benchmark start a private RabbitMQ broker and inspect it with pika
  librabbitmq-dev
  rabbitmq-server
  python3-pika
)

usage() {
  cat <<'EOF'
usage: tools/setup.sh [--build-dir DIR] [--sanitize address|thread] [--build-type TYPE] [--no-build]
                      [--cmake-arg ARG]... [--target T]...

Installs the missing Debian packages (apt-get; sudo when not root), then configures taskring
with CMake + Ninja and builds it.

  --build-dir DIR         build directory (default: build, build-asan or build-tsan)
  --sanitize address      ASan + UBSan build (TASKRING_SANITIZE=address)
  --sanitize thread       TSan build (TASKRING_SANITIZE=thread)
  --build-type TYPE       CMAKE_BUILD_TYPE (default RelWithDebInfo)
  --no-build              install packages and configure, but do not build
  --cmake-arg ARG         extra argument for the cmake configure step, after the defaults (so
                          -DTASKRING_BUILD_TESTS=OFF overrides them); repeatable
  --target T              build only the Ninja target T (and what it needs), not everything;
                          repeatable
  -h, --help              show this help

Environment: JOBS (parallel build jobs, default 2).
EOF
}

log() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR=""
SANITIZE=""
BUILD_TYPE="RelWithDebInfo"
DO_BUILD=1
CMAKE_ARGS=()
TARGETS=()
JOBS="${JOBS:-2}"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) [[ $# -ge 2 ]] || die "--build-dir needs a value"; BUILD_DIR="$2"; shift 2 ;;
    --build-dir=*) BUILD_DIR="${1#*=}"; shift ;;
    --sanitize) [[ $# -ge 2 ]] || die "--sanitize needs a value"; SANITIZE="$2"; shift 2 ;;
    --sanitize=*) SANITIZE="${1#*=}"; shift ;;
    --build-type) [[ $# -ge 2 ]] || die "--build-type needs a value"; BUILD_TYPE="$2"; shift 2 ;;
    --build-type=*) BUILD_TYPE="${1#*=}"; shift ;;
    --no-build) DO_BUILD=0; shift ;;
    --cmake-arg) [[ $# -ge 2 ]] || die "--cmake-arg needs a value"; CMAKE_ARGS+=("$2"); shift 2 ;;
    --cmake-arg=*) CMAKE_ARGS+=("${1#*=}"); shift ;;
    --target) [[ $# -ge 2 ]] || die "--target needs a value"; TARGETS+=("$2"); shift 2 ;;
    --target=*) TARGETS+=("${1#*=}"); shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

case "$SANITIZE" in
  "") DEFAULT_DIR="build" ;;
  address) DEFAULT_DIR="build-asan" ;;
  thread) DEFAULT_DIR="build-tsan" ;;
  *) die "--sanitize must be 'address' or 'thread', not '$SANITIZE'" ;;
esac
BUILD_DIR="${BUILD_DIR:-$ROOT/$DEFAULT_DIR}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$PWD/$BUILD_DIR"

# --- 1. packages ---------------------------------------------------------------------------
is_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run '$*' and sudo is not installed; run as root or install: ${MISSING[*]}"
  fi
}

command -v dpkg-query >/dev/null 2>&1 ||
  die "dpkg-query not found: this script supports Debian/Ubuntu; install the equivalents of: ${PACKAGES[*]}"

MISSING=()
for pkg in "${PACKAGES[@]}"; do
  is_installed "$pkg" || MISSING+=("$pkg")
done

if [[ ${#MISSING[@]} -eq 0 ]]; then
  log "all ${#PACKAGES[@]} packages already installed"
else
  log "installing missing packages: ${MISSING[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -q </dev/null ||
    die "apt-get update failed"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q \
    --no-install-recommends "${MISSING[@]}" </dev/null || die "apt-get install failed"
  for pkg in "${MISSING[@]}"; do
    is_installed "$pkg" || die "package $pkg is still not installed"
  done
  log "installed: ${MISSING[*]}"
fi

command -v cmake >/dev/null 2>&1 || die "cmake not found on PATH"
command -v ninja >/dev/null 2>&1 || die "ninja not found on PATH"

# --- 2. configure --------------------------------------------------------------------------
# A build directory made earlier with another generator (e.g. Makefiles) cannot be reused
# with Ninja: drop its CMake cache (not the build outputs) so it is configured afresh.
CACHE="$BUILD_DIR/CMakeCache.txt"
if [[ -f "$CACHE" ]]; then
  generator="$(sed -n 's/^CMAKE_GENERATOR:INTERNAL=//p' "$CACHE")"
  if [[ -n "$generator" && "$generator" != "Ninja" ]]; then
    log "$BUILD_DIR was configured for '$generator'; removing its CMake cache to switch to Ninja"
    rm -rf "$CACHE" "$BUILD_DIR/CMakeFiles"
  fi
fi

# Benchmarks only in the plain build (and only once bench/ has a CMakeLists.txt); sanitizer
# builds exist to run the tests.
BENCH=OFF
if [[ -z "$SANITIZE" && -f "$ROOT/bench/CMakeLists.txt" ]]; then
  BENCH=ON
fi

log "configuring $BUILD_DIR (${BUILD_TYPE}${SANITIZE:+, sanitize=$SANITIZE})"
mkdir -p "$BUILD_DIR"
CONFIGURE_LOG="$BUILD_DIR/setup-configure.log"
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja \
  -DCMAKE_BUILD_TYPE="$BUILD_TYPE" \
  -DTASKRING_SANITIZE="$SANITIZE" \
  -DTASKRING_BUILD_TESTS=ON \
  -DTASKRING_BUILD_BENCHMARKS="$BENCH" \
  "${CMAKE_ARGS[@]}" \
  >"$CONFIGURE_LOG" 2>&1 || {
    cat "$CONFIGURE_LOG" >&2
    die "cmake configure failed (output above, also in $CONFIGURE_LOG)"
  }

# --- 3. build ------------------------------------------------------------------------------
if [[ "$DO_BUILD" -eq 0 ]]; then
  log "configured $BUILD_DIR (--no-build: not building)"
  exit 0
fi

log "building in $BUILD_DIR (ninja -j$JOBS${TARGETS[*]:+ ${TARGETS[*]}})"
start=$SECONDS
ninja -C "$BUILD_DIR" -j "$JOBS" "${TARGETS[@]}" || die "build failed in $BUILD_DIR"
log "build ok in $((SECONDS - start))s: $BUILD_DIR${TARGETS[*]:+ (only ${TARGETS[*]})}"
