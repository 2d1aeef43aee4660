"""The streamed solve: the stored solution, fewer pairs than the store's k, refusals."""

import numpy as np
import pytest

from hessian import out_of_core
from hessian.out_of_core import SketchStore

from .helpers import K, run


def test_solve_keeps_fewer_pairs_and_stores_them(tmp_path):
    url = str(tmp_path / "h.zarr")
    full, _ = run(url)
    part = out_of_core.solve(url, k=10, scheduler="sync")
    np.testing.assert_allclose(part.eigenvalues, full.eigenvalues[:10], rtol=1e-10)
    store = SketchStore.open(url)
    assert store.solved and store.transform().shape[1] == 10 and store.solve_info["k"] == 10
    assert part.eigenvectors(0, 5).shape == (5, 10)
    with pytest.raises(ValueError, match="k must be in"):
        out_of_core.solve(url, k=K + 10**6)
