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
            url, SketchSettings(D=o.D, k=10, s=20, vectors_per_block=8),
            fingerprint(o), spec.to_json(), o.theta.numpy(),
        )  # fmt: skip
        out_of_core.solve(url)


def test_a_store_written_before_vectors_per_block_had_its_name(tmp_path):
    """Old stores hold ``block_size`` in their settings: they open, resume and compare as new."""
    spec = runner_spec(8)
    o = spec.build()
    url = str(tmp_path / "h.zarr")
    settings = SketchSettings(D=o.D, k=10, s=20, vectors_per_block=8)
    assert SketchSettings(D=o.D, k=10, s=20, block_size=8) == settings
    store = SketchStore.open_or_create(
        url, settings, fingerprint(o), spec.to_json(), o.theta.numpy()
    )
    old = dict(store.group.attrs["settings"])
    old["block_size"] = old.pop("vectors_per_block")
    store.group.attrs["settings"] = old
    again = SketchStore.open_or_create(
        url, settings, fingerprint(o), spec.to_json(), o.theta.numpy()
    )
    assert again.settings == settings and again.settings.n_blocks == 3
