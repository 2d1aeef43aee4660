"""open_solution: either kind of solved store, by its format; anything else named."""

import pytest
import zarr

from hessian.exceptions import StoreMismatchError
from hessian.out_of_core import SketchStore
from hessian.out_of_core.solutions import open_solution

from .helpers import run


def test_bad_stores_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no store"):
        open_solution(str(tmp_path / "none.zarr"))

    zarr.open_group(str(tmp_path / "plain.zarr"), mode="w")
    with pytest.raises(StoreMismatchError, match="not a store of this library"):
        open_solution(str(tmp_path / "plain.zarr"))


def test_a_sketch_store_opens_as_itself(tmp_path):
    run(tmp_path / "s.zarr")
    assert isinstance(open_solution(str(tmp_path / "s.zarr")), SketchStore)
