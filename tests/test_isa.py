"""The kernels' paths (fastrnn/_isa.h): one table of float32 kernels per
instruction set, chosen at import or forced with FASTRNN_ISA / set_isa.

- the C harness tests/c/check_kernels.c checks every table this CPU runs
  against a scalar double reference, natively, and the ARM64 (NEON) build
  under qemu-aarch64 where Debian's cross compiler and qemu-user are
  installed (.ci/run installs them);
- fastrnn.RNN / LSTM / GRU agree with the plain numpy reference on every
  path, over the shapes that reach each kernel (fused one-row steps, the
  packed step with 1..7 rows, tails of H % lanes, lengths, both directions,
  projections, the hidden-unit split between threads), and each call is
  seen to run on the path forced;
- a path the CPU lacks, or an unknown one, is refused with a clear error.
"""
import os
import platform
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import fastrnn
import reference
from fastrnn import _kernels, _testing
from reference import assert_close

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARNESS = os.path.join(ROOT, "tests", "c", "check_kernels.c")
KERNEL_SOURCES = [os.path.join(ROOT, "fastrnn", f"_isa_{name}.c")
                  for name in ("select", "avx512", "avx2", "generic")]
X86 = platform.machine() in ("x86_64", "AMD64")


def _harness_result(stdout):
    match = re.search(r"^(\d+) passed, (\d+) failed$", stdout, re.M)
    assert match, stdout[-2000:]
    return int(match.group(1)), int(match.group(2))


def _build(cc, out, tmp_path, static=False):
    """Kernels at -O3 (as setup.py builds them), the harness at -O1."""
    objects = []
    for src in KERNEL_SOURCES:
        obj = str(tmp_path / (os.path.basename(src) + ".o"))
        subprocess.run([cc, "-O3", "-Wno-psabi", "-I", os.path.join(ROOT, "fastrnn"), "-c", src,
                        "-o", obj], check=True)
        objects.append(obj)
    main = str(tmp_path / "check_kernels.o")
    subprocess.run([cc, "-O1", "-I", os.path.join(ROOT, "fastrnn"), "-c", HARNESS, "-o", main],
                   check=True)
    subprocess.run([cc, *(["-static"] if static else []), main, *objects, "-lm", "-o", out],
                   check=True)


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_c_harness_on_every_path_of_this_cpu(tmp_path):
    exe = str(tmp_path / "check_kernels")
    _build("cc", exe, tmp_path)
    run = subprocess.run([exe], capture_output=True, text=True, timeout=300)
    passed, failed = _harness_result(run.stdout)
    assert run.returncode == 0 and failed == 0, run.stdout
    paths = _kernels.isa_paths()
    for name in paths:
        assert re.search(rf"^{name} +packed step", run.stdout, re.M), name
    assert passed >= 50 * len(paths)


ARM_TOOLS = shutil.which("aarch64-linux-gnu-gcc") and shutil.which("qemu-aarch64")


@pytest.mark.skipif(not X86 or not ARM_TOOLS,
                    reason="needs aarch64-linux-gnu-gcc and qemu-aarch64 (Debian: "
                           "gcc-aarch64-linux-gnu, qemu-user; .ci/run installs them)")
def test_c_harness_on_arm64_neon_under_qemu(tmp_path):
    exe = str(tmp_path / "check_kernels_arm64")
    _build("aarch64-linux-gnu-gcc", exe, tmp_path, static=True)
    run = subprocess.run(["qemu-aarch64", exe], capture_output=True, text=True, timeout=600)
    passed, failed = _harness_result(run.stdout)
    assert run.returncode == 0 and failed == 0, run.stdout
    assert re.search(r"^neon +packed step", run.stdout, re.M)
    assert not re.search(r"^(avx|sse)", run.stdout, re.M)   # only NEON in an ARM64 build
    assert passed >= 50


# ---------------------------------------------------------------- forcing a path
def test_paths_of_this_cpu():
    paths = _kernels.isa_paths()
    assert paths[-1] in ("sse2", "neon", "generic")    # the baseline always runs
    assert len(set(paths)) == len(paths)
    if X86:
        flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
        if flags:
            assert ("avx512" in paths) == (" avx512f" in flags)
            assert ("avx2" in paths) == (" avx2" in flags and " fma" in flags)


def test_unknown_or_missing_paths_are_refused():
    before = _kernels.isa()
    with pytest.raises(ValueError, match=r"FASTRNN_ISA='avx3': no such path.*this CPU runs"):
        _kernels.set_isa("avx3")
    if X86 and "avx512" not in _kernels.isa_paths():
        with pytest.raises(ValueError, match="this CPU has no AVX-512F"):
            _kernels.set_isa("avx512")
    if X86:
        with pytest.raises(ValueError, match="no such path"):
            _kernels.set_isa("neon")
    assert _kernels.isa() == before


def _python(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


@pytest.mark.parametrize("name", _kernels.isa_paths())
def test_environment_forces_a_path(name):
    run = _python("from fastrnn import _kernels; print(_kernels.isa())", FASTRNN_ISA=name)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == name
    run = _python("import sys; from fastrnn.cli import main; sys.exit(main(['info']))",
                  FASTRNN_ISA=name)
    assert run.returncode == 0, run.stderr
    assert re.search(rf"^path: {name} \(", run.stdout, re.M), run.stdout


def test_environment_asking_for_a_missing_path_fails_at_import():
    run = _python("import fastrnn", FASTRNN_ISA="avx3")
    assert run.returncode != 0
    assert "FASTRNN_ISA='avx3': no such path" in run.stderr


# ---------------------------------------------------------------- parity on every path
# kind, N, L, F, H, layers, bidirectional, proj_size, lengths, threads
SHAPES = [
    ("rnn", 1, 9, 5, 64, 1, False, 0, False, 1),
    ("rnn", 3, 7, 40, 100, 2, False, 0, True, 1),
    ("rnn", 7, 6, 24, 200, 1, True, 0, False, 1),
    ("rnn", 2, 5, 3, 13, 1, False, 0, False, 1),
    ("lstm", 1, 9, 7, 32, 1, False, 0, False, 1),     # fused one-row steps
    ("lstm", 1, 9, 7, 64, 2, True, 0, True, 1),
    ("lstm", 1, 6, 5, 40, 1, False, 0, False, 1),     # one row, H not a multiple of 32
    ("lstm", 2, 8, 6, 96, 1, False, 0, False, 1),
    ("lstm", 3, 7, 40, 100, 2, False, 0, True, 1),    # 3 rows: two-panel blocks on 16 registers
    ("lstm", 7, 6, 24, 200, 1, True, 0, False, 1),    # 6 + 1 rows
    ("lstm", 4, 5, 9, 48, 1, False, 20, False, 1),    # projection
    ("lstm", 13, 5, 9, 17, 1, False, 0, False, 1),    # tails of every width
    ("gru", 1, 9, 7, 32, 1, False, 0, False, 1),
    ("gru", 1, 9, 7, 128, 1, True, 0, True, 1),
    ("gru", 1, 6, 5, 24, 1, False, 0, False, 1),
    ("gru", 3, 7, 40, 100, 2, False, 0, True, 1),
    ("gru", 7, 6, 24, 200, 1, True, 0, False, 1),
    ("gru", 5, 5, 9, 11, 1, False, 0, False, 1),
    # the hidden-unit split between two threads (large enough steps to split)
    ("rnn", 16, 12, 64, 512, 1, False, 0, False, 2),
    ("lstm", 16, 8, 64, 256, 1, False, 0, True, 2),
    ("gru", 16, 8, 64, 256, 1, False, 0, False, 2),
]


def _model(kind, F, H, layers, bidirectional, proj, seed):
    cls = {"rnn": fastrnn.RNN, "lstm": fastrnn.LSTM, "gru": fastrnn.GRU}[kind]
    kwargs = {"proj_size": proj} if proj else {}
    model = cls(F, H, num_layers=layers, bidirectional=bidirectional, batch_first=True, **kwargs)
    rng = np.random.default_rng(seed)
    bound = 1 / np.sqrt(H)   # torch's initialisation
    model.load_state_dict({k: rng.uniform(-bound, bound, v.shape).astype(np.float32)
                           for k, v in model.state_dict().items()})
    return model


def _config(model, kind):
    config = dict(hidden_size=model.hidden_size, num_layers=model.num_layers,
                  bias=True, batch_first=True, bidirectional=model.bidirectional)
    if kind == "rnn":
        config["nonlinearity"] = "tanh"
    if kind == "lstm":
        config["proj_size"] = model.proj_size
    return config


def _reference(kind, model, x, lengths):
    """The numpy reference in float64, each sequence alone over its own length."""
    state = {k: np.asarray(v) for k, v in model.state_dict().items()}
    forward = reference.FORWARDS[kind]
    outs, states = [], []
    for n in range(x.shape[0]):
        steps = x.shape[1] if lengths is None else lengths[n]
        out, hn = forward(state, _config(model, kind), x[n:n + 1, :steps], None, np.float64)
        full = np.zeros((1, x.shape[1], out.shape[2]))
        full[:, :steps] = out
        outs.append(full)
        states.append(hn[0] if kind == "lstm" else hn)
    return np.concatenate(outs), np.concatenate(states, axis=1)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "{}-N{}-L{}-F{}-H{}-l{}-bi{}-p{}-len{}-t{}"
                         .format(*s))
def test_every_path_matches_the_reference(shape, each_isa, amx_off):
    kind, N, L, F, H, layers, bidirectional, proj, with_lengths, threads = shape
    model = _model(kind, F, H, layers, bidirectional, proj, seed=H + N)
    rng = np.random.default_rng(N * L)
    x = rng.standard_normal((N, L, F)).astype(np.float32)
    lengths = None
    if with_lengths:
        lengths = [int(v) for v in rng.integers(1, L + 1, N)]
        lengths[0] = L
    ref_out, ref_h = _reference(kind, model, x, lengths)
    previous = fastrnn.get_num_threads()
    fastrnn.set_num_threads(threads)
    _kernels.resume_split()
    calls = _testing.path_calls()
    try:
        out, state = model(x, lengths=lengths)
    finally:
        fastrnn.set_num_threads(previous)
    # every layer's call ran on the path forced
    assert _testing.path_calls()[each_isa] - calls.get(each_isa, 0) == layers
    h = state[0] if kind == "lstm" else state
    assert_close(out, ref_out, np.float32, f"{each_isa} output", kind=kind)
    assert_close(h, ref_h, np.float32, f"{each_isa} h_n", kind=kind)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_the_split_runs_on_every_packed_path(kind, each_isa, amx_off, split_unpaused):
    # a unidirectional layer with large steps splits its hidden units on
    # every path whose "auto" takes the packed kernel, and gives one
    # thread's bits
    model = _model(kind, 64, 256, 1, False, 0, seed=1)
    x = np.random.default_rng(2).standard_normal((16, 12, 64)).astype(np.float32)
    previous = fastrnn.get_num_threads()
    try:
        fastrnn.set_num_threads(1)
        one, _ = model(x)
        fastrnn.set_num_threads(2)
        splits = _testing.split_calls()
        two, _ = model(x)
        split = _testing.split_calls() - splits
    finally:
        fastrnn.set_num_threads(previous)
    assert split == (1 if _testing.use_packed_step(12, 16, 256) else 0)
    assert np.array_equal(one, two)
