#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds a consumer with find_package(taskring);
# checks the installed package needs no Boost and carries C++20, and that the service files are
# installed and sound (systemd-analyze verify, when it is available). Then the C library:
# libtaskring.so with its SONAME and only the C API exported, and a C consumer built once with
# pkg-config and once with find_package(taskring) (taskring::c).
set -euo pipefail
build_dir=$1
here=$(cd "$(dirname "$0")" && pwd)
src_dir=$here/consumer
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "install_test: FAIL: $*" >&2; exit 1; }

cmake --install "$build_dir" --prefix "$work/prefix" > "$work/install.log"
p=$work/prefix
test -f "$p/include/taskring/producer.h" || fail "headers not installed"
test -x "$p/bin/taskringd" || fail "taskringd not installed"
test -x "$p/bin/taskring" || fail "taskring not installed"

# The package: no Boost (no public header needs it), and C++20 is a usage requirement.
cmake_dir=$(dirname "$(find "$p" -name taskringConfig.cmake | head -1)")
test -d "$cmake_dir" || fail "taskringConfig.cmake not installed"
if grep -iE "^[^#]*boost" "$cmake_dir"/*.cmake; then fail "the installed package still refers to Boost"; fi
grep -q 'cxx_std_20' "$cmake_dir"/taskringTargets.cmake ||
  fail "taskring::taskring does not require cxx_std_20"
if grep -rl 'boost/' "$p/include/taskring"; then fail "a public header includes Boost"; fi

# The consumer sets no CMAKE_CXX_STANDARD; its main.cc static_asserts C++20.
cmake -S "$src_dir" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$p" > "$work/configure.log"
cmake --build "$work/build" > "$work/build.log" || { cat "$work/build.log" >&2; fail "consumer build"; }
"$work/build/consumer"

# The C library: the .so with its symlinks, the C header and taskring.pc.
test -f "$p/include/taskring/taskring.h" || fail "taskring.h not installed"
so=$(find "$p" -name 'libtaskring.so.0.*' | head -1)
test -f "$so" || fail "libtaskring.so.0.x.y not installed"
libdir=$(dirname "$so")
test "$(readlink "$libdir/libtaskring.so.0")" = "$(basename "$so")" ||
  fail "libtaskring.so.0 is not a link to $(basename "$so")"
test "$(readlink "$libdir/libtaskring.so")" = libtaskring.so.0 ||
  fail "libtaskring.so is not a link to libtaskring.so.0"
# (Outputs are read whole before grep: under pipefail a grep -q that exits first would fail the
# pipeline with SIGPIPE.)
dyn=$(readelf -d "$so")
grep -q 'Library soname: \[libtaskring\.so\.0\]' <<<"$dyn" || fail "SONAME of $so"
bash "$here/../capi/check_exports.sh" "$so" "$p/include/taskring/taskring.h" ||
  fail "the installed libtaskring.so exports more or less than the C API"
test -f "$libdir/pkgconfig/taskring.pc" || fail "taskring.pc not installed in $libdir/pkgconfig"

# A C consumer through pkg-config (the .pc finds its prefix from its own place).
export PKG_CONFIG_PATH=$libdir/pkgconfig
pc_flags=$(pkg-config --cflags --libs taskring) || fail "pkg-config --cflags --libs taskring"
test "$(pkg-config --modversion taskring)" = "$(basename "$so" | sed 's/^libtaskring\.so\.//')" ||
  fail "taskring.pc's version is not the library's"
# shellcheck disable=SC2086  # pkg-config's output is a list of flags
cc -std=c99 -Wall -Wextra -pedantic -Werror -o "$work/c_consumer_pc" "$here/c_consumer/main.c" \
  $pc_flags || fail "C consumer build with pkg-config ($pc_flags)"
LD_LIBRARY_PATH=$libdir "$work/c_consumer_pc" || fail "C consumer (pkg-config) run"
deps=$(LD_LIBRARY_PATH=$libdir ldd "$work/c_consumer_pc")
grep -q "libtaskring.so.0 => $libdir/" <<<"$deps" ||
  fail "the pkg-config consumer does not load the installed libtaskring.so.0"

# A C consumer through find_package(taskring), linking taskring::c (a C-only project).
cmake -S "$here/c_consumer" -B "$work/c_build" -G Ninja -DCMAKE_PREFIX_PATH="$p" \
  > "$work/c_configure.log" || { cat "$work/c_configure.log" >&2; fail "C consumer configure"; }
cmake --build "$work/c_build" > "$work/c_build.log" ||
  { cat "$work/c_build.log" >&2; fail "C consumer build with find_package"; }
"$work/c_build/c_consumer" || fail "C consumer (find_package) run"

# Service files.
unit=$p/lib/systemd/system/taskringd@.service
test -f "$unit" || fail "systemd unit not installed"
test -f "$p/lib/sysusers.d/taskring.conf" || fail "sysusers.d entry not installed"
conf=$(find "$p/share/doc" -name example.conf | head -1)
test -f "$conf" || fail "example.conf not installed"
grep -q '^ExecStart=/.*/taskringd --config /.*/taskring/%i.conf$' "$unit" || fail "ExecStart in $unit"
for bad in DynamicUser RemoveIPC; do
  if grep -q "^$bad=" "$unit"; then fail "$unit sets $bad= (it deletes the queues' /dev/shm objects)"; fi
done
# example.conf lists every taskringd flag (but --help/--version/--config), commented out.
flags=$("$p/bin/taskringd" --help | sed -n 's/^  --\([a-z0-9-]*\).*/\1/p' | grep -vxE 'help|version|config')
test -n "$flags" || fail "no flags in taskringd --help"
for f in $flags; do
  grep -qE "^#$f = " "$conf" || fail "example.conf does not list '$f' (taskringd --help has it)"
done
if command -v systemd-analyze > /dev/null; then
  # Verify an instance of the template, run from the binary installed here.
  sed "s|^ExecStart=[^ ]*|ExecStart=$p/bin/taskringd|" "$unit" > "$work/taskringd@example.service"
  out=$(systemd-analyze verify "$work/taskringd@example.service" 2>&1) ||
    fail "systemd-analyze verify: $out"
  # Unknown or unparsable settings are only warnings for it: any output is a failure here.
  test -z "$out" || fail "systemd-analyze verify: $out"
  echo "install_test: systemd-analyze verify passed"
else
  echo "install_test: systemd-analyze not installed, unit not verified"
fi
echo "install_test: find_package(taskring) consumer built and ran; C consumers built with pkg-config" \
  "and find_package(taskring::c) ran; service files installed"
