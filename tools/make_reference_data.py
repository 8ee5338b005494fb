"""Store torch.nn.RNN's, LSTM's and GRU's outputs for the parity grids under tests/data/.

The tests compare fastrnn against these files when torch is not installed,
so the suite checks torch parity without torch. Each case is one compressed
.npz: its configuration (with its kind), torch's state dict, the input, the
initial state when the case has one (hx, and cx for LSTM), and torch's
output, h_n and, for LSTM, c_n. RNN cases sit in tests/data/, LSTM and GRU
cases in tests/data/lstm/ and tests/data/gru/.

Run from the repository root, with torch installed:

    python tools/make_reference_data.py                 # write every kind's cases
    python tools/make_reference_data.py --kind lstm gru # write only these kinds
    python tools/make_reference_data.py --check         # compare with what is stored

The grids themselves are defined in tests/reference.py (parity_cases).
"""
import argparse
import warnings
import pathlib
import sys
import zlib


TESTS_DIR = pathlib.Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS_DIR))

import reference  # noqa: E402  (tests/reference.py, found through the path above)

MODULES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def case_seed(case):
    """A seed fixed by the case's id, so regenerating one case does not shift the others."""
    return zlib.crc32(case["id"].encode())


def torch_module(torch, case):
    """The case's torch module (its class from the case's kind), with torch's initial weights."""
    kind = case.get("kind", "rnn")
    module = getattr(torch.nn, MODULES[kind])(**reference.case_config(case),
                                               dtype=getattr(torch, case["dtype"]))
    return module.eval()


def run_torch_case(torch, case, seed):
    """Build the case's torch module and inputs from `seed`; return numpy arrays.

    torch is passed in so that tests/ can call this without importing it first.
    For LSTM, hx is None or (h0, c0) and the result has c_n as well.
    """
    dtype = getattr(torch, case["dtype"])
    torch.manual_seed(seed)
    module = torch_module(torch, case)
    generator = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(reference.case_input_shape(case), generator=generator, dtype=dtype)
    hx = None
    if case["with_hx"]:
        states = [0.5 * torch.randn(shape, generator=generator, dtype=dtype)
                  for shape in reference.case_state_shapes(case)]
        hx = tuple(states) if case.get("kind") == "lstm" else states[0]
    with torch.no_grad():
        output, final = module(x, hx)
    result = dict(module=module, input=x.numpy().copy(), output=output.numpy().copy(),
                  state={name: value.numpy().copy() for name, value in module.state_dict().items()})
    if case.get("kind") == "lstm":
        result.update(h_n=final[0].numpy().copy(), c_n=final[1].numpy().copy(),
                      hx=None if hx is None else tuple(s.numpy().copy() for s in hx))
    else:
        result.update(h_n=final.numpy().copy(), hx=None if hx is None else hx.numpy().copy())
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="recompute every stored case and report differences; write nothing")
    parser.add_argument("--kind", nargs="+", choices=reference.KINDS, default=reference.KINDS,
                        help="the kinds of module to write or check (default: all)")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    # torch's note on its own backend choice for LSTM projections, on every forward
    warnings.filterwarnings("ignore", "LSTM with projections is not supported with oneDNN")
    cases = [case for kind in args.kind for case in reference.parity_cases(kind)]
    wanted = {reference.case_path(c["id"]) for c in cases}
    stale = [p for kind in args.kind for p in reference.stored_case_paths(kind)
             if p not in wanted]
    worst = {}
    missing = []
    for case in cases:
        result = run_torch_case(torch, case, case_seed(case))
        path = reference.case_path(case["id"])
        if args.check:
            if not path.exists():
                missing.append(path)
                continue
            stored = reference.load_case(path)
            keys = ("output", "h_n", "c_n") if case["kind"] == "lstm" else ("output", "h_n")
            for key in keys:
                error = reference.normalized_error(stored[key], result[key])
                worst[case["kind"]] = max(worst.get(case["kind"], 0.0), error)
            continue
        path.parent.mkdir(exist_ok=True)
        reference.save_case(path, case, result["state"], result["input"], result["hx"],
                            result["output"], result["h_n"], torch.__version__,
                            c_n=result.get("c_n"))
    if args.check:
        for kind in args.kind:
            count = sum(c["kind"] == kind for c in cases)
            print(f"{kind}: {count} cases, largest normalized difference "
                  f"{worst.get(kind, 0.0):.3e}")
        for label, paths in (("stale files:", stale), ("missing files:", missing)):
            if paths:
                print(label, *paths, sep="\n  ")
        return 1 if stale or missing or max(worst.values(), default=0.0) > 1e-6 else 0
    for path in stale:
        path.unlink()
    for kind in args.kind:
        paths = reference.stored_case_paths(kind)
        total = sum(p.stat().st_size for p in paths)
        print(f"{kind}: {len(paths)} cases in {reference.kind_dir(kind)} ({total / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
