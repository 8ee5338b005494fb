#!/usr/bin/env bash
# Build fastrnn's kernels with AddressSanitizer (and Cython's bounds checks,
# FASTRNN_DEBUG=1) in a scratch copy of this checkout, then run the whole test
# suite against that build:
#
#     bash tools/asan.sh [pytest arguments]      (default: -q tests)
#
# Any out-of-bounds read or write, use after free or double free in the
# kernels stops the run with an AddressSanitizer report and a non-zero exit.
# Leak detection is off: CPython and the libraries it loads keep memory until
# exit by design, which would bury fastrnn's own reports (leaks are checked by
# tests/test_memory.py instead). Needs gcc's libasan (Debian: libasan8, which
# comes with gcc).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
# (a path relative to where the script was started: it runs in a scratch copy)
case "$python" in */*) python="$(cd "$(dirname "$python")" && pwd)/$(basename "$python")" ;; esac
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

libasan="$(gcc -print-file-name=libasan.so)"
# libstdc++ preloaded too: without it ASan's __cxa_throw interceptor finds no
# real function and aborts the first C++ exception (onnxruntime throws some).
libstdcxx="$(gcc -print-file-name=libstdc++.so)"
if [ ! -e "$libasan" ]; then
    echo "asan.sh: gcc's libasan.so was not found (install libasan for your gcc)" >&2
    exit 2
fi

# A copy without build products, so nothing of the normal build is reused.
git -C "$repo" ls-files -z | (cd "$repo" && xargs -0 cp --parents -t "$work")
cd "$work"
FASTRNN_DEBUG=1 \
CFLAGS="-fsanitize=address -fno-omit-frame-pointer" \
LDFLAGS="-fsanitize=address" \
    "$python" setup.py -q build_ext --inplace 2>&1 | grep -v -i "warning" || true
test -n "$(ls fastrnn/_kernels*.so)"

export PYTHONPATH="$work"
export LD_PRELOAD="$libasan $libstdcxx"
# allocator_may_return_null: an impossible allocation is a MemoryError, as in
# the normal build, not an abort. FASTRNN_ASAN=1 skips the tests that measure
# resident memory, which ASan's quarantine and shadow memory inflate by design.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:allocator_may_return_null=1"
export FASTRNN_ASAN=1
# The tests must import this build, not an installed fastrnn.
"$python" -c "
import fastrnn._kernels as k, sys
sys.exit(0 if k.__file__.startswith('$work') else 'asan.sh: imported ' + k.__file__ + ', not the ASan build')"
echo "asan.sh: running the tests on the AddressSanitizer build in $work" >&2
if [ $# -eq 0 ]; then set -- -q tests; fi
# faulthandler off: its SIGSEGV handler would pre-empt ASan's report.
"$python" -m pytest -p no:cacheprovider -p no:faulthandler "$@"
