"""One measurement block: idempotent, and a no-op on a block that is done."""

from hessian.out_of_core import measure_block

from .helpers import run


def test_measure_block_is_idempotent(tmp_path):
    url = str(tmp_path / "h.zarr")
    run(url)
    assert measure_block(url, 0)["status"] == "done"


def _worker() -> str:
    from hessian.out_of_core import blocks

    return blocks._WORKER


def test_a_worker_that_cannot_import_the_problem_names_it(tmp_path, monkeypatch):
    """The factory imports here but not in the Dask worker (its module is on this process's
    path only, added after the worker started): one message naming the path and the worker."""
    import uuid

    import pytest
    from distributed import Client, LocalCluster

    from hessian import out_of_core
    from hessian.exceptions import ProblemError
    from hessian.operators import OperatorSpec

    mod = f"here_only_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{mod}.py").write_text(
        "import torch\nfrom torch import nn\n\n"
        "def factory(seed=0):\n"
        "    X = torch.randn(20, 5, generator=torch.Generator().manual_seed(0))\n"
        "    return {'model': nn.Linear(5, 2), 'train_data': (X, torch.arange(20) % 2),\n"
        "            'settings': {'n_hessian': 10}}\n"
    )
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None,
                      silence_logs=50) as cluster, Client(cluster) as client:  # fmt: skip
        monkeypatch.syspath_prepend(str(tmp_path))  # after the worker spawned
        spec = OperatorSpec(f"{mod}:factory", dtype="float64", vectors_per_pass=2)
        with pytest.raises(ProblemError) as e:
            out_of_core.sketch(
                str(tmp_path / "h.zarr"), spec, k=2, s=4, scheduler=client, progress=False
            )
        worker = next(iter(client.run(_worker).values()))
    msg = str(e.value)
    assert f"worker {worker} cannot build the problem '{mod}:factory'" in msg, msg
    assert f"cannot import '{mod}'" in msg
