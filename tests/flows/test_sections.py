"""A configuration section refuses unknown fields and booleans taken as numbers; old field names
are read under their new names, and giving both is refused."""

import pytest
from pydantic import ValidationError

from hessian_sketch.flows.sections import RENAMED, Section, renamed_fields


class _Example(Section):
    k: int = 1
    tol: float | None = None
    steps: list[int] | None = None
    enabled: bool = True


def test_a_boolean_is_not_a_number():
    assert _Example(k=3, enabled=False).k == 3
    for field, kind in (("k", "an integer"), ("tol", "a number"), ("steps", "a list of integers")):
        with pytest.raises(ValidationError, match=f"expected {kind}, got the boolean"):
            _Example(**{field: [1, True] if field == "steps" else True})


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError, match="extra"):
        _Example(kk=3)


def test_old_names_are_read_as_new():
    assert "sketch.block_size" in RENAMED
    assert renamed_fields({"block_size": 8, "k": 2}, "sketch") == {"vectors_per_pass": 8, "k": 2}
    assert renamed_fields({"block_size": 8}, "train") == {"block_size": 8}  # another section
    with pytest.raises(ValueError, match="block_size is the old name of vectors_per_pass"):
        renamed_fields({"block_size": 8, "vectors_per_pass": 8}, "sketch")
