"""Every exception in one module, each also importable where it is raised."""

import pytest

import hessian
from hessian import exceptions, out_of_core, training


def test_one_module_holds_them_all():
    for name in exceptions.__all__:
        assert issubclass(getattr(exceptions, name), Exception)


def test_they_are_reexported_where_they_are_raised():
    assert hessian.NondeterministicOperatorError is exceptions.NondeterministicOperatorError
    assert hessian.operators.NondeterministicOperatorError is hessian.NondeterministicOperatorError
    assert out_of_core.StoreMismatchError is exceptions.StoreMismatchError
    assert out_of_core.store.CorruptBlockError is exceptions.CorruptBlockError
    assert training.CheckpointMismatchError is exceptions.CheckpointMismatchError


def test_the_base_classes_callers_catch():
    assert issubclass(exceptions.StoreMismatchError, ValueError)
    assert issubclass(exceptions.CheckpointMismatchError, ValueError)
    assert issubclass(exceptions.ConfigError, ValueError)
    assert issubclass(exceptions.TrackingUnavailableError, RuntimeError)
    with pytest.raises(RuntimeError, match=r"blocks \[1, 3\]") as e:
        raise exceptions.CorruptBlockError([3, 1])
    assert e.value.blocks == [1, 3]
