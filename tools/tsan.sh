#!/usr/bin/env bash
# Build fastrnn's kernels with ThreadSanitizer in a scratch copy of this checkout and
# run the tests of threads, split layers and kept scratch under it:
#
#     PYTHON=.venv/bin/python bash tools/tsan.sh [pytest arguments]
#
# A data race between fastrnn's own threads (the directions of a bidirectional layer,
# the slices of a split layer, Python threads calling one model, the scratch blocks
# kept between calls) stops the run with a ThreadSanitizer report and a non-zero exit.
# CPython, numpy and OpenBLAS are not instrumented: races inside them are not fastrnn's
# and are suppressed (tools/tsan.supp). Needs gcc's libtsan (Debian: libtsan2).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
# (a path relative to where the script was started: it runs in a scratch copy)
case "$python" in */*) python="$(cd "$(dirname "$python")" && pwd)/$(basename "$python")" ;; esac
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

libtsan="$(gcc -print-file-name=libtsan.so)"
if [ ! -e "$libtsan" ]; then
    echo "tsan.sh: gcc's libtsan.so was not found (install libtsan for your gcc)" >&2
    exit 2
fi

git -C "$repo" ls-files -z | (cd "$repo" && xargs -0 cp --parents -t "$work")
cd "$work"
CFLAGS="-fsanitize=thread -g -O1 -fno-omit-frame-pointer" LDFLAGS="-fsanitize=thread" \
    "$python" setup.py -q build_ext --inplace 2>&1 | grep -v -i "warning\|note:\|^\s*[0-9]* |\|^\s*|" || true
test -n "$(ls fastrnn/_kernels*.so)"

export PYTHONPATH="$work"
export LD_PRELOAD="$libtsan"
export TSAN_OPTIONS="halt_on_error=1:exitcode=66:report_signal_unsafe=0:suppressions=$repo/tools/tsan.supp"
export FASTRNN_ASAN=1  # (skips the tests that measure resident memory)
"$python" -c "
import fastrnn._kernels as k, sys
sys.exit(0 if k.__file__.startswith('$work') else 'tsan.sh: imported ' + k.__file__ + ', not the TSan build')"
echo "tsan.sh: running the thread tests on the ThreadSanitizer build in $work" >&2
if [ $# -gt 0 ]; then
    exec "$python" -m pytest -p no:cacheprovider -p no:faulthandler "$@"
fi
# One process per file: TSan's cost per suppressed report (CPython's and numpy's
# frees, which it sees without the GIL's ordering) grows with the reports before
# it, so the stress test alone takes ~30 s, and 10 times more after the others.
status=0
for file in tests/test_rnn_threads.py tests/test_layer_plan.py tests/test_isa.py \
        tests/test_stress.py tests/test_amx.py; do
    "$python" -m pytest -p no:cacheprovider -p no:faulthandler -q "$file" \
        -k "thread or split or parallel or scratch or concurrent or slic" || status=$?
done
exit "$status"
