"""The sketch store: opening, laying out, refusing what it is not."""

import pytest

from hessian import out_of_core
from hessian.operators import fingerprint
from hessian.out_of_core import SketchSettings, SketchStore

from .runner import spec as runner_spec


def test_bad_store_urls(tmp_path):
    with pytest.raises(FileNotFoundError, match="no sketch store"):
        SketchStore.open(str(tmp_path / "nothing.zarr"))
    with pytest.raises(RuntimeError, match="not done"):
        spec = runner_spec(8)
        o = spec.build()
        url = str(tmp_path / "h.zarr")
        SketchStore.open_or_create(
            url, SketchSettings(D=o.D, k=10, s=20, block_size=8),
            fingerprint(o), spec.to_json(), o.theta.numpy(),
        )  # fmt: skip
        out_of_core.solve(url)
