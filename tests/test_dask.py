"""Batch inference on a distributed engine: a fastrnn model scattered once to
the workers of a real dask.distributed LocalCluster (two worker processes),
map_blocks over a dask array of sequences; each worker runs fastrnn on one
thread (the nannies set OMP_NUM_THREADS=1, which fastrnn honours). dask is a
test dependency only."""
import os

import numpy as np
import pytest

import fastrnn
import reference

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")


def _forward(block, model):
    """One chunk of sequences (N, L, F) -> the model's output (N, L, H)."""
    return model(block)[0]


def _worker_threads():
    import fastrnn
    return fastrnn.get_num_threads()


@pytest.fixture(scope="module")
def client():
    environ = dict(os.environ)  # (distributed sets OMP_NUM_THREADS & co. in this process too)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=50)
    try:
        with distributed.Client(cluster) as c:
            yield c
    finally:
        cluster.close()
        os.environ.clear()
        os.environ.update(environ)


@pytest.mark.parametrize("cls", [fastrnn.LSTM, fastrnn.GRU])
def test_map_blocks_on_a_cluster_equals_one_process(client, cls):
    model = cls(8, 32, num_layers=2, batch_first=True, seed=3)
    x = np.random.default_rng(4).standard_normal((64, 20, 8)).astype(np.float32)
    chunks = 8
    remote_model = client.scatter(model, broadcast=True)      # sent once, not per task
    sequences = da.from_array(x, chunks=(chunks, -1, -1))
    with distributed.get_task_stream(client) as stream:
        out = sequences.map_blocks(_forward, remote_model, dtype=np.float32,
                                   chunks=(chunks, 20, 32)).compute()
    # the same chunks in this process, bit for bit
    local = np.concatenate([_forward(x[i:i + chunks], model) for i in range(0, 64, chunks)])
    np.testing.assert_array_equal(out, local)
    # and one call on the whole batch, within the float32 tolerance
    reference.assert_close(out, model(x)[0], np.float32, "cluster against one call")
    # both workers ran chunks, each with fastrnn on one thread
    ran = {task["worker"] for task in stream.data if "forward" in str(task["key"])}
    assert len(ran) == 2, stream.data
    assert sorted(client.run(_worker_threads).values()) == [1, 1]
