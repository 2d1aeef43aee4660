"""The train task: checkpoints with their hashes, resumed on a second call."""

from hessian_sketch.tasks import training
from hessian_sketch.tasks._cache import file_sha256


def test_checkpoints_and_their_identity(tiny):
    plan, cks, _ = tiny
    assert sorted(cks) == [0, 10] and all(c["trained"] for c in cks.values())
    for t, c in cks.items():
        assert c["step"] == t and c["sha256"] == file_sha256(c["path"])
        assert 0 <= c["accuracy"] <= 1 and c["loss"] > 0
    again = training.train.fn(plan.train, str(plan.layout.checkpoints))
    assert {t: c["sha256"] for t, c in again.items()} == {t: c["sha256"] for t, c in cks.items()}
    assert not any(c["trained"] for c in again.values())
