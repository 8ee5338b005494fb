"""Throughput of batch inference on a dask.distributed cluster against one process.

    python tools/bench_dask.py [--workers 2] [--sequences 4096] [--chunk 256]

An LSTM (F=32, H=128, two layers, L=50) over a dask array of sequences with
map_blocks, the model scattered once to the workers (one worker process per
core, one thread each: the nannies set OMP_NUM_THREADS=1, which fastrnn
honours), against the same chunks run one after another in this process on
one thread, and against one call on the whole batch with every core
(fastrnn's default threads). Prints sequences per second (median of 5).
"""
import argparse
import statistics
import time

import numpy as np

import fastrnn


def forward(block, model):
    return model(block)[0]


def main(argv=None):
    import dask.array as da
    import distributed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sequences", type=int, default=4096)
    parser.add_argument("--chunk", type=int, default=256)
    args = parser.parse_args(argv)
    model = fastrnn.LSTM(32, 128, num_layers=2, batch_first=True, seed=0)
    x = np.random.default_rng(1).standard_normal((args.sequences, 50, 32)).astype(np.float32)

    def timed(fn):
        fn()
        times = []
        for _ in range(5):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return args.sequences / statistics.median(times)

    threads = fastrnn.get_num_threads()
    fastrnn.set_num_threads(1)
    one_thread = timed(lambda: [forward(x[i:i + args.chunk], model)
                                for i in range(0, args.sequences, args.chunk)])
    fastrnn.set_num_threads(threads)
    whole = timed(lambda: forward(x, model))
    with distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=50) as cluster, \
            distributed.Client(cluster) as client:
        remote = client.scatter(model, broadcast=True)
        sequences = da.from_array(x, chunks=(args.chunk, -1, -1))
        out = sequences.map_blocks(forward, remote, dtype=np.float32,
                                   chunks=(args.chunk, 50, 128))
        clustered = timed(lambda: out.compute())
    print(f"LSTM F=32 H=128 2 layers L=50, {args.sequences} sequences in chunks of {args.chunk}:")
    print(f"  one process, one thread, chunk after chunk: {one_thread:9.0f} sequences/s")
    print(f"  one process, one call, {threads} threads:       {whole:9.0f} sequences/s "
          f"({whole / one_thread:.2f}x)")
    print(f"  dask, {args.workers} workers x 1 thread, map_blocks:  {clustered:9.0f} sequences/s "
          f"({clustered / one_thread:.2f}x)")


if __name__ == "__main__":
    main()
