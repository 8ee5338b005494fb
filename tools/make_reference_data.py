"""Store torch.nn.RNN's outputs for the parity grid under tests/data/.

The tests compare fastrnn against these files when torch is not installed,
so the suite checks torch parity without torch. Each case is one compressed
.npz: its configuration, torch's state dict, the input, hx (when the case
has one), and torch's output and h_n.

Run from the repository root, with torch installed:

    python tools/make_reference_data.py            # write tests/data/*.npz
    python tools/make_reference_data.py --check    # compare with what is stored

The grid itself is defined in tests/reference.py (parity_cases).
"""
import argparse
import pathlib
import sys
import zlib


TESTS_DIR = pathlib.Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS_DIR))

import reference  # noqa: E402  (tests/reference.py, found through the path above)


def case_seed(case):
    """A seed fixed by the case's id, so regenerating one case does not shift the others."""
    return zlib.crc32(case["id"].encode())


def run_torch_case(torch, case, seed):
    """Build the case's torch module and inputs from `seed`; return numpy arrays.

    torch is passed in so that tests/ can call this without importing it first.
    """
    dtype = getattr(torch, case["dtype"])
    torch.manual_seed(seed)
    module = torch.nn.RNN(**reference.case_config(case), dtype=dtype)
    module.eval()
    generator = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(reference.case_input_shape(case), generator=generator, dtype=dtype)
    hx = None
    if case["with_hx"]:
        hx = 0.5 * torch.randn(reference.case_hx_shape(case), generator=generator, dtype=dtype)
    with torch.no_grad():
        output, h_n = module(x, hx)
    state = {name: value.numpy().copy() for name, value in module.state_dict().items()}
    return dict(module=module, state=state, input=x.numpy().copy(),
                hx=None if hx is None else hx.numpy().copy(),
                output=output.numpy().copy(), h_n=h_n.numpy().copy())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="recompute every stored case and report differences; write nothing")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    cases = reference.parity_cases()
    reference.DATA_DIR.mkdir(exist_ok=True)
    wanted = {reference.case_path(c["id"]) for c in cases}
    stale = [p for p in reference.stored_case_paths() if p not in wanted]
    worst = 0.0
    for case in cases:
        result = run_torch_case(torch, case, case_seed(case))
        path = reference.case_path(case["id"])
        if args.check:
            stored = reference.load_case(path)
            for key in ("output", "h_n"):
                worst = max(worst, reference.normalized_error(stored[key], result[key]))
            continue
        stored_case = {k: v for k, v in case.items()}
        reference.save_case(path, stored_case, result["state"], result["input"], result["hx"],
                            result["output"], result["h_n"], torch.__version__)
    if args.check:
        print(f"{len(cases)} cases, largest normalized difference {worst:.3e}")
        if stale:
            print("stale files:", *stale, sep="\n  ")
        return 1 if stale or worst > 1e-6 else 0
    for path in stale:
        path.unlink()
    total = sum(p.stat().st_size for p in reference.stored_case_paths())
    print(f"wrote {len(cases)} cases to {reference.DATA_DIR} ({total / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
