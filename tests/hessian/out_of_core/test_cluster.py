"""The Dask side of a run: threads per worker, and a client that closes only what it opened."""

import os

from hessian.out_of_core import cluster


def test_threads_per_worker():
    assert cluster.threads_per_worker(1, 3) == 3
    assert cluster.threads_per_worker(64, None) == 1
    assert cluster.threads_per_worker(1, None) == max(1, os.cpu_count() or 1)


def test_client_of_a_new_cluster_and_of_an_existing_client():
    with cluster.client(None, 1, 1) as c:
        assert cluster.scheduler_is_client(c)
        info = c.scheduler_info()["workers"]
        assert len(info) == 1 and [w["nthreads"] for w in info.values()] == [1]  # one task each
        with cluster.client(c, 1, 1) as same:
            assert same is c
        assert c.status == "running"  # a client given to us is not closed
    assert c.status == "closed"
    assert not cluster.scheduler_is_client("tcp://127.0.0.1:8786")


def test_one_worker_per_gpu_sees_only_its_own():
    """The cluster of products on cuda: a worker per GPU, CUDA_VISIBLE_DEVICES each (the
    environment is what is checked: no GPU is needed to start it)."""
    import os

    from distributed import Client

    from hessian.out_of_core.cluster import local_cluster

    with local_cluster(1, None, gpus=[0, 3]) as cluster, Client(cluster) as client:
        seen = client.run(lambda: os.environ.get("CUDA_VISIBLE_DEVICES"))
        assert sorted(cluster.worker_spec) == ["gpu-0", "gpu-3"]
    assert sorted(seen.values()) == ["0", "3"]
