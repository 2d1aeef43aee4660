"""The serialisable operator spec: JSON round trip, rebuilding, and the operator's fingerprint."""

import numpy as np
import pytest
import torch

from hessian.operators import GGNOperator, HessianOperator, OperatorSpec, fingerprint


def test_json_round_trip_and_build():
    spec = OperatorSpec("mnist_tiny", batch_size=None, vectors_per_pass=8, dtype="float64")
    assert OperatorSpec.from_json(spec.to_json()) == spec
    op = spec.build()
    assert (
        isinstance(op, HessianOperator) and op.dtype == torch.float64 and op.vectors_per_pass == 8
    )
    ggn = OperatorSpec("mnist_tiny", kind="ggn").build()
    assert isinstance(ggn, GGNOperator) and ggn.dtype == torch.float32


def test_fingerprint_names_the_matrix_not_its_batching():
    spec = OperatorSpec("mnist_tiny", batch_size=None, dtype="float64")
    op = spec.build()
    theta = op.theta.numpy()
    assert fingerprint(op) == fingerprint(spec.build(theta))
    rebatched = OperatorSpec("mnist_tiny", batch_size=7, vectors_per_pass=3, dtype="float64")
    assert fingerprint(rebatched.build(theta)) == fingerprint(op)
    assert fingerprint(spec.build(theta * 1.01)) != fingerprint(op)
    assert fingerprint(OperatorSpec("mnist_tiny", batch_size=None).build(theta)) != fingerprint(op)
    np.testing.assert_array_equal(spec.build(theta).theta.numpy(), theta)


def test_bad_specs_are_refused():
    with pytest.raises(ValueError, match="unknown operator kind"):
        OperatorSpec("mnist_tiny", kind="fisher")
    with pytest.raises(ValueError, match="dtype"):
        OperatorSpec("mnist_tiny", dtype="float16")
    with pytest.raises(ValueError, match="unknown problem"):
        OperatorSpec("nope")


def test_block_size_is_the_old_name_of_vectors_per_pass():
    with pytest.warns(DeprecationWarning, match="vectors_per_pass"):
        spec = OperatorSpec("mnist_tiny", block_size=8)
    assert spec == OperatorSpec("mnist_tiny", vectors_per_pass=8)
    assert "block_size" not in spec.to_json()
    old = '{"problem": "mnist_tiny", "block_size": 4, "dtype": "float64"}'  # an old store's spec
    assert OperatorSpec.from_json(old) == OperatorSpec("mnist_tiny", vectors_per_pass=4,
                                                       dtype="float64")  # fmt: skip
