"""One measurement block: idempotent, and a no-op on a block that is done."""

from hessian.out_of_core import measure_block

from .helpers import run


def test_measure_block_is_idempotent(tmp_path):
    url = str(tmp_path / "h.zarr")
    run(url)
    assert measure_block(url, 0)["status"] == "done"
