"""The serialisable operator spec: JSON round trip, rebuilding, and the operator's fingerprint."""

import numpy as np
import pytest
import torch

from hessian.operators import GGNOperator, HessianOperator, OperatorSpec, fingerprint


def test_json_round_trip_and_build():
    spec = OperatorSpec("mnist_tiny", batch_size=None, block_size=8, dtype="float64")
    assert OperatorSpec.from_json(spec.to_json()) == spec
    op = spec.build()
    assert isinstance(op, HessianOperator) and op.dtype == torch.float64 and op.block_size == 8
    ggn = OperatorSpec("mnist_tiny", kind="ggn").build()
    assert isinstance(ggn, GGNOperator) and ggn.dtype == torch.float32


def test_fingerprint_names_the_matrix_not_its_batching():
    spec = OperatorSpec("mnist_tiny", batch_size=None, dtype="float64")
    op = spec.build()
    theta = op.theta.numpy()
    assert fingerprint(op) == fingerprint(spec.build(theta))
    rebatched = OperatorSpec("mnist_tiny", batch_size=7, block_size=3, dtype="float64")
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
