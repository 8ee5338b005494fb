"""Side-by-side speed of fastrnn, onnxruntime and torch: `python tools/bench.py --help`.

The same as `fastrnn bench`; the code is fastrnn/bench.py, so that an
installed fastrnn can run it without this checkout.
"""
import sys

from fastrnn.bench import main

if __name__ == "__main__":
    sys.exit(main())
