"""A run's plan: its configuration validated once, and the typed request of each stage."""

from unittest import mock

import pytest

from hessian.exceptions import ConfigError
from hessian_sketch.flows import config
from hessian_sketch.flows.plan import Plan


def test_requests_are_built_from_the_config():
    plan = Plan.of(
        {"problem": "mnist_tiny", "name": "p", "train": {"record_steps": [0, 10]},
         "sketch": {"k": 8, "s": 20, "vectors_per_pass": 4, "dtype": "float32"},
         "analysis": {"random_draws": 7, "metric_ks": [4]}, "dask": {"threads": 2}}
    )  # fmt: skip
    assert (plan.train.problem, plan.train.record_steps, plan.train.steps) == (
        "mnist_tiny",
        (0, 10),
        10,
    )
    op = plan.sketch.operator
    assert (op.problem, op.vectors_per_pass, op.dtype, op.threads) == (
        "mnist_tiny",
        4,
        "float32",
        2,
    )
    assert (plan.sketch.k, plan.sketch.s, plan.sketch.vectors_per_block) == (8, 20, 4)
    assert (plan.analysis.draws, plan.analysis.metric_ks) == (7, (4,))
    assert plan.exact.operator.dtype == "float64" and plan.exact.k == 8
    assert plan.exact.operator.vectors_per_pass == 4  # the same operator, in float64
    assert plan.layout.root.name == "p"


def test_a_plan_is_validated_once():
    calls = mock.Mock(wraps=config.RunConfig.resolve)
    with mock.patch.object(config.RunConfig, "resolve", lambda self: calls(self)):
        plan = Plan.of({"problem": "mnist_tiny"})
        assert Plan.of(plan) is plan and calls.call_count == 1
        again = Plan.of(plan, ["analysis.random_draws=5"])  # overrides: validated anew
        assert again.analysis.draws == 5 and calls.call_count == 2
    with pytest.raises(ConfigError, match=r"sketch\.k"):
        Plan.of({"sketch": {"k": 0}})
