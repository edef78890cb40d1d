#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds a consumer with find_package(taskring).
set -euo pipefail
build_dir=$1
src_dir=$(cd "$(dirname "$0")" && pwd)/consumer
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" > "$work/install.log"
test -f "$work/prefix/include/taskring/producer.h"
test -x "$work/prefix/bin/taskringd"
test -x "$work/prefix/bin/taskring"
cmake -S "$src_dir" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/configure.log"
cmake --build "$work/build" > "$work/build.log"
"$work/build/consumer"
echo "install_test: find_package(taskring) consumer built and ran"
