"""Throughput of batch inference on a dask.distributed cluster against one process.

    python tools/bench_dask.py [--workers 2] [--sequences 4096] [--chunk 256]

An LSTM (F=32, H=128, two layers, L=50) over a dask array of sequences with
map_blocks, the model scattered once to the workers (one worker process per
core, one thread each: the nannies set OMP_NUM_THREADS=1, which fastrnn
honours), against the same chunks run one after another in this process
(one thread, then fastrnn's default threads). The sequences are persisted on
the workers first; the outputs are either gathered to the client (what a
user who needs them all in memory does) or reduced on the workers (what
writing each chunk to storage costs the client: nothing). Prints sequences
per second (median of 5).
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
    chunked = lambda: [forward(x[i:i + args.chunk], model)  # noqa: E731
                       for i in range(0, args.sequences, args.chunk)]
    fastrnn.set_num_threads(1)
    one_thread = timed(chunked)
    fastrnn.set_num_threads(threads)
    all_threads = timed(chunked)
    with distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=50) as cluster, \
            distributed.Client(cluster) as client:
        remote = client.scatter(model, broadcast=True)
        sequences = da.from_array(x, chunks=(args.chunk, -1, -1)).persist()
        distributed.wait(sequences)
        out = sequences.map_blocks(forward, remote, dtype=np.float32,
                                   chunks=(args.chunk, 50, 128))
        gathered = timed(lambda: out.compute())
        reduced = timed(lambda: out.sum().compute())
    print(f"LSTM F=32 H=128 2 layers L=50, {args.sequences} sequences in chunks of {args.chunk}:")
    print(f"  one process, chunk after chunk, 1 thread:   {one_thread:7.0f} sequences/s")
    print(f"  one process, chunk after chunk, {threads} threads:  {all_threads:7.0f} sequences/s "
          f"({all_threads / one_thread:.2f}x)")
    print(f"  dask, {args.workers} workers x 1 thread, outputs gathered: {gathered:7.0f} sequences/s "
          f"({gathered / one_thread:.2f}x)")
    print(f"  dask, {args.workers} workers x 1 thread, reduced on workers: {reduced:7.0f} sequences/s "
          f"({reduced / one_thread:.2f}x)")


if __name__ == "__main__":
    main()
