#!/usr/bin/env bash
# Run a command as on an AVX2-only CPU: tools/avx2_only.c hides AVX-512 and
# AMX from CPUID, so onnxruntime, torch, OpenBLAS, numpy and fastrnn each pick
# their AVX2 code by themselves.  Needs a CPU with CPUID faulting
# (`cpuid_fault` in /proc/cpuinfo).  The microarchitecture stays the host's.
#   tools/bench_avx2_only.sh fastrnn bench --markdown
#   tools/bench_avx2_only.sh python -m pytest -q -p no:faulthandler tests
# (pytest's faulthandler takes SIGSEGV over; turn it off under this tool.
# tests/test_isa.py::test_paths_of_this_cpu compares the paths with
# /proc/cpuinfo, which still lists AVX-512: it fails under this tool.)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lib="${AVX2_ONLY_LIB:-${TMPDIR:-/tmp}/fastrnn_avx2_only.so}"
if [ ! -f "$lib" ] || [ "$here/avx2_only.c" -nt "$lib" ]; then
    ${CC:-gcc} -O2 -shared -fPIC -o "$lib" "$here/avx2_only.c"
fi
grep -qw cpuid_fault /proc/cpuinfo || { echo "this CPU has no CPUID faulting" >&2; exit 2; }
LD_PRELOAD="$lib${LD_PRELOAD:+:$LD_PRELOAD}" exec "$@"
