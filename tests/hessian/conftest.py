"""Fixtures of the library tests: solved sketch stores of mnist_tiny."""

import numpy as np
import pytest

from hessian import out_of_core
from hessian.operators import OperatorSpec

#: eigenpairs and measurements of the ``stores`` sketches
STORE_K, STORE_S = 24, 48


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """Solved sketches of mnist_tiny at two parameter vectors (init and perturbed)."""
    root = tmp_path_factory.mktemp("analysis")
    spec = OperatorSpec("mnist_tiny", vectors_per_pass=8, dtype="float64", batch_size=None)
    theta0 = spec.build().theta.numpy().astype(np.float64)
    rng = np.random.default_rng(0)
    out = {}
    for name, theta in (("a", theta0), ("b", theta0 + 0.05 * rng.standard_normal(theta0.size))):
        url = str(root / f"{name}.zarr")
        out_of_core.sketch(
            url, spec, theta, k=STORE_K, s=STORE_S, noise="sparse", dtype="float64",
            scheduler="inprocess", progress=False,
        )  # fmt: skip
        out[name] = (url, theta, spec.build(theta))
    return out
