"""The sketch task (a store per step, resumed) and the a-posteriori error task."""

from hessian.out_of_core import SketchStore
from hessian_sketch.tasks import sketching


def test_sketch_identity_and_reuse(tiny):
    plan, cks, outs = tiny
    out = outs[10]
    assert (out["step"], out["D"], out["k"], out["s"]) == (10, 2146, 8, 16)
    assert not out["reused"] and out["hvps"] == 16 and out["blocks_measured"] == 2
    store = SketchStore.open(out["url"])
    assert out["id"] == sketching.identity(store, 10)
    assert set(out["id"]) == {"step", "url", "fingerprint", "solution_id"}
    again = sketching.sketch.fn(out["url"], cks[10], plan.sketch, scheduler="inprocess")
    assert again["reused"] and again["hvps"] == 0 and again["id"] == out["id"]


def test_aposteriori_error(tiny):
    plan, _, outs = tiny
    est = sketching.aposteriori_error.fn(outs[10]["id"], plan.sketch)
    assert est["probes"] == plan.sketch.probes and 0 < est["relative"]
    lo, hi = est["interval"]
    assert lo <= est["error"] <= hi
