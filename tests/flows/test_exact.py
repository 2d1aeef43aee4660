"""The ``exact`` flow: the dense reference at one recorded step, compared with its sketch."""

import pytest

from hessian.exceptions import ConfigError
from hessian_sketch.flows import exact, sketch

from .conftest import TINY


def test_exact_reference_and_comparison(prefect_server, tmp_path):
    conf = TINY | {"name": "e", "run_dir": str(tmp_path / "e"),
                   "train": {"record_steps": [0]}, "dask": {"address": "inprocess"}}  # fmt: skip
    alone = exact(conf, 0)  # no sketch yet: the reference and its analysis only
    assert alone["analysis"]["D"] == 2146 and "comparison" not in alone
    assert (tmp_path / "e" / "exact" / "step_000000.npz").exists()
    sketch(conf, 0)
    both = exact(conf, 0)
    assert both["analysis"]["eigenvalues"] == alone["analysis"]["eigenvalues"]
    assert 0 < both["comparison"]["subspace_overlap"][-1] <= 1


def test_large_problems_are_refused(prefect_server):
    with pytest.raises(ConfigError, match="too large for a dense reference"):
        exact({"problem": "wide_mlp"}, 0)
