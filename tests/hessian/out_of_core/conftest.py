import pytest

import hessian

from .helpers import K, S
from .runner import spec as runner_spec


@pytest.fixture(scope="module")
def op():
    return runner_spec(8).build()


@pytest.fixture(scope="module")
def reference(op):
    """The in-memory sketch with the runner's settings (seed 5, default oversampling)."""
    return hessian.seigh(op, k=K, s=S, seed=5, noise="sparse")
