"""Your own problem: a factory named by its import path or registered, and its bad forms."""

from __future__ import annotations

import textwrap
import uuid

import pytest
import torch

from hessian import problems
from hessian.exceptions import ProblemError
from hessian.operators import OperatorSpec, fingerprint

CNN = "examples.digits_cnn:factory"


def write_module(tmp_path, monkeypatch, name: str, body: str) -> str:
    """A real module file ``name.py`` on the import path (for factories good and bad)."""
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


@pytest.fixture
def registered():
    problems.register("digits_cnn", CNN)
    yield "digits_cnn"
    problems.unregister("digits_cnn")


def test_a_factory_by_its_import_path():
    p = problems.load(CNN)
    assert p.D == 1_626 and p.name == CNN
    X, y = p.hessian_data
    assert X.shape == (500, 1, 16, 16) and torch.bincount(y).tolist() == [50] * 10
    assert p.settings.lr == 0.3 and p.settings.k == 30 and p.settings.s == 60  # its SETTINGS
    assert p.settings.record_steps == (0, 50) and p.settings.num_classes == 10
    assert p.loss is torch.nn.functional.cross_entropy
    # deterministic: the same model and data in every process that builds it
    q = problems.load(CNN)
    assert torch.equal(p.flat_params(), q.flat_params())
    assert not torch.equal(p.flat_params(), problems.load(CNN, seed=1).flat_params())
    assert problems.settings(CNN).D == 1_626


def test_registered_equals_the_import_path(registered):
    assert registered in problems.names()
    a, b = OperatorSpec(CNN, batch_size=None), OperatorSpec(registered, batch_size=None)
    assert a.factory == b.factory == CNN  # the spec records the path workers import
    assert OperatorSpec.from_json(b.to_json()) == b
    assert fingerprint(a.build()) == fingerprint(b.build())
    with pytest.raises(ValueError, match="built-in"):
        problems.register("mnist_mini", CNN)


def test_a_registered_callable_records_its_path(registered):
    import examples.digits_cnn as m

    problems.register("cnn_callable", m.factory)
    try:
        assert OperatorSpec("cnn_callable").factory == CNN
    finally:
        problems.unregister("cnn_callable")
    problems.register("local", lambda seed=0: m.factory(seed))
    try:  # no import path: fine in this process, no path for other processes
        spec = OperatorSpec("local", batch_size=None)
        assert spec.factory is None and spec.build().D == 1_626
    finally:
        problems.unregister("local")


def test_a_dict_and_explicit_hessian_data(tmp_path, monkeypatch):
    mod = write_module(
        tmp_path,
        monkeypatch,
        "prob_dict",
        """
        import torch
        from torch import nn

        def factory(seed, data=None):
            g = torch.Generator().manual_seed(seed)
            X = torch.randn(40, 6, generator=g)
            y = torch.arange(40) % 3
            return {"model": nn.Linear(6, 3), "train_data": (X, y),
                    "hessian_data": (X[:7], y[:7]), "loss": nn.CrossEntropyLoss(),
                    "settings": {"k": 4}}
    """,
    )
    p = problems.load(f"{mod}:factory", n_train=30)
    assert len(p.train_data[1]) == 30 and len(p.hessian_data[1]) == 7 and p.D == 21
    assert isinstance(p.loss, torch.nn.CrossEntropyLoss) and p.settings.s == 8
    op = OperatorSpec(f"{mod}:factory", dtype="float64").build()
    assert op.loss is not torch.nn.functional.cross_entropy and op.D == 21


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        (None, "no_such_module_xyz:factory", "cannot import 'no_such_module_xyz'"),
        ("x = 1\n", "{mod}:factory", "has no attribute 'factory'"),
        ("factory = 3\n", "{mod}:factory", "int object is not callable"),
        ("def factory():\n    return 42\n", "{mod}:factory", "returned int, not a"),
        ("def factory():\n    raise RuntimeError('no GPU here')\n", "{mod}:factory",
         "the factory raised RuntimeError: no GPU here"),
        ("raise ImportError('broken')\n", "{mod}:factory", "raised ImportError: broken"),
        ("def factory():\n    return {'model': 1}\n", "{mod}:factory", "the factory's result"),
    ],
)  # fmt: skip
def test_bad_factories_are_one_message_naming_the_path(tmp_path, monkeypatch, body, path, message):
    mod = f"bad_factory_{uuid.uuid4().hex[:8]}"  # a fresh module name: none is cached
    if body is not None:
        write_module(tmp_path, monkeypatch, mod, body)
    path = path.format(mod=mod)
    with pytest.raises(ProblemError, match="problem") as e:
        problems.load(path)
    assert path in str(e.value) and message in str(e.value)


def test_unknown_names_and_paths():
    assert problems.is_import_path("a.b:c") and not problems.is_import_path("mnist_mini")
    assert not problems.is_import_path("a b:c") and not problems.is_import_path(":c")
    with pytest.raises(ProblemError, match="unknown problem 'nope'"):
        problems.load("nope")
    with pytest.raises(ValueError, match="unknown problem 'nope'"):
        OperatorSpec("nope")
