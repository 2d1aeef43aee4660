"""Product jobs: write H src[:, cols] into dst, marked with the step's key; a rerun skips them;
an operator that does not match the store is refused."""

import numpy as np
import pytest

from hessian.exceptions import StoreMismatchError
from hessian.operators import CountingOperator
from hessian.operators.spec import fingerprint
from hessian.out_of_core.basis_jobs import Jobs, forget, product_job
from hessian.out_of_core.basis_store import AccurateSettings, BasisStore

from .runner import accurate_request


def test_jobs_write_skip_and_check_the_operator(tmp_path, op):
    req = accurate_request(4, 8, vectors_per_job=4)
    st = req.settings(op.D)
    url = str(tmp_path / "j.zarr")
    store = BasisStore.open_or_create(url, st, fingerprint(op), req.operator.to_json(),
                                      op.theta.numpy())  # fmt: skip
    X = np.linalg.qr(np.random.default_rng(0).standard_normal((op.D, 8)))[0]
    store.group["basis"][:, :8] = X
    jobs = Jobs(url, None, 1, op)
    jobs.run("basis", 0, 8, "products", "jobs", 7, 4)  # two jobs of 4
    assert jobs.jobs == 2 and list(store.group["jobs"][:]) == [7, 7]
    W = store.read("products", 0, op.D)
    np.testing.assert_allclose(W, CountingOperator(op)(X), rtol=1e-10, atol=1e-12)
    again = product_job(url, "basis", 0, 4, "products", 0, "jobs", 0, 7, op=op)
    assert again["status"] == "done"
    forget(url)
    other = AccurateSettings(**{**st.__dict__})
    bad = BasisStore.open_or_create(str(tmp_path / "o.zarr"), other, "not-this-operator",
                                    req.operator.to_json(), op.theta.numpy())  # fmt: skip
    bad.group["basis"][:, :8] = X
    with pytest.raises(StoreMismatchError, match="differs from the one the store"):
        product_job(bad.url, "basis", 0, 4, "products", 0, "jobs", 0, 1, op=op)
    forget(bad.url)
