#!/usr/bin/env bash
# Checks libtaskring.so's ABI: its SONAME is libtaskring.so.0, it exports the C functions of
# include/taskring/taskring.h (all of them, at version TASKRING_0) and nothing else, and it
# needs no library beyond the C and C++ runtimes (and the dynamic loader, for thread_local).
#   check_exports.sh LIB HEADER
set -euo pipefail
lib=$1
header=$2
fail() { echo "check_exports: FAIL: $*" >&2; exit 1; }
test -f "$lib" || fail "$lib does not exist"

dyn=$(readelf -d "$lib")
grep -q 'Library soname: \[libtaskring\.so\.0\]' <<<"$dyn" ||
  fail "SONAME is not libtaskring.so.0: $(grep SONAME <<<"$dyn")"

# nm -D prints "ADDR T name@@TASKRING_0" for a function and "0 A TASKRING_0" for the version node.
defined=$(nm -D --defined-only "$lib" | awk '{print $3}')
test -n "$defined" || fail "nm -D found no symbols"
unversioned=$(grep -vE '@@TASKRING_0$|^TASKRING_0$' <<<"$defined" || true)
test -z "$unversioned" || fail "symbols outside version TASKRING_0: $unversioned"
exported=$(sed 's/@.*//' <<<"$defined" | grep -vx TASKRING_0 | sort -u)
bad=$(grep -vE '^taskring_[a-z0-9_]+$' <<<"$exported" || true)
test -z "$bad" || fail "exports more than the C API: $(tr '\n' ' ' <<<"$bad")"

declared=$(grep -oE '\btaskring_[a-z0-9_]+\(' "$header" | tr -d '(' | sort -u)
missing=$(comm -23 <(echo "$declared") <(echo "$exported"))
test -z "$missing" || fail "declared in $header but not exported: $(tr '\n' ' ' <<<"$missing")"
undeclared=$(comm -13 <(echo "$declared") <(echo "$exported"))
test -z "$undeclared" || fail "exported but not in $header: $(tr '\n' ' ' <<<"$undeclared")"

needed=$(sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' <<<"$dyn")
extra=$(grep -vE '^(libstdc\+\+\.so\.6|libm\.so\.6|libgcc_s\.so\.1|libc\.so\.6|ld-linux[-a-z0-9_]*\.so\.[0-9])$' <<<"$needed" || true)
test -z "$extra" || fail "needs more than the C/C++ runtimes: $(tr '\n' ' ' <<<"$extra")"

echo "check_exports: $lib exports $(wc -l <<<"$exported") taskring_* functions, no other symbol;" \
  "SONAME libtaskring.so.0; needs $(tr '\n' ' ' <<<"$needed")"
