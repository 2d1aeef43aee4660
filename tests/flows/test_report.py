"""summary.json's step records, the log line and the end-of-run table."""

import json

import pytest
from rich.console import Console

from hessian_sketch.flows import report
from hessian_sketch.flows.config import RunConfig

from .records import K, certificate, record


def test_a_step_record_holds_what_a_reader_needs():
    rec = record(20)
    assert rec["step"] == 20 and len(rec["eigenvalues"]) == K
    assert rec["negative_fraction"] == pytest.approx(2 / 6)
    assert set(rec["overlap"]) == {"magnitude", "random_mean", "random_std", "best"}
    assert len(rec["chance"]) == K and rec["sketch"]["fingerprint"] == "fp"
    assert rec["timings"]["solve"] == 0.5 and rec["aposteriori"]["relative"] == 0.1
    assert rec["trained_this_run"] is True and "exact" not in rec
    ex = record(20, exact=True)["exact"]
    assert ex["sketch_vs_exact"]["subspace_overlap"][-1] == 0.9 and len(ex["eigenvalues"]) == K
    json.dumps(rec)  # JSON-able as it is


def test_step_line_and_table():
    rec = record(0, exact=True)
    line = report.step_line(rec, 100)  # k above the pairs held: the last k is used
    assert line.startswith(f"step 0: overlap at k = {K}: magnitude") and "exact magnitude" in line
    cfg = RunConfig(problem="mnist_tiny", sketch={"k": K, "s": 12}).resolve()
    summary = report.summary(cfg, [rec, record(10)], {}, plots=["a.png"], extra={"x": 1})
    assert (summary["k"], summary["s"], summary["plots"], summary["x"]) == (K, 12, ["a.png"], 1)
    console = Console(width=200, record=True)
    console.print(report.table(summary))
    text = console.export_text()
    assert "mnist_tiny (D = 2,146)" in text and "exact" in text and "0.100" in text
    assert len([ln for ln in text.splitlines() if ln.strip().startswith(("0 ", "10 "))]) == 2


def _certified(rank, k=K, mode="single-pass"):
    rec = record(0)
    rec["mode"] = mode
    rec["certificate"] = certificate(rank, k)
    return rec


def test_uncertified_pairs_get_one_line_and_a_table_column():
    full, short = _certified(K), _certified(2)
    assert report.certificate_warning([full]) is None
    line = report.certificate_warning([full, short])
    assert line.startswith("step 0: only 2 of the k = 6 eigenpairs are certified")
    assert "sketch.mode: accurate" in line and "\n" not in line
    acc = report.certificate_warning([_certified(3, mode="accurate")])
    assert "sketch.max_products" in acc
    assert "no certificate" in report.certificate_warning([record(0)])
    cfg = RunConfig(problem="mnist_tiny", sketch={"k": K, "s": 12}).resolve()
    summary = report.summary(cfg, [full, short], {})
    assert summary["certified"] == {"k": K, "min_certified_rank": 2, "complete": False,
                                    "by_step": {0: 2}}  # fmt: skip
    console = Console(width=200, record=True)
    console.print(report.table(summary))
    text = console.export_text()
    assert "cert" in text and f"{K}/{K}" in text and f"2/{K}" in text


def test_a_partial_summary_is_merged_never_truncated(tmp_path):
    from hessian_sketch.flows.report import write_summary

    same = {"problem": "p", "D": 10, "k": 2, "s": 4, "noise": "sparse", "seed": 0}
    step = {"step": 0, "aposteriori": {"relative": 0.1}, "eigenvalues": [2.0, 1.0],
            "sketch": {"solution_id": "a", "hvps": 8}}  # fmt: skip
    full = same | {"steps": [step, step | {"step": 5}], "mlflow": {"run_id": "r"},
                   "work": {"hvps": 8}, "timings": {"train": 1.0}}  # fmt: skip
    path = tmp_path / "summary.json"
    write_summary(path, full)
    partial = same | {"steps": [step | {"aposteriori": None, "sketch": {"solution_id": "a",
                                                                      "hvps": None}}],
                      "timings": {"analyze": 2.0}}  # fmt: skip
    out = write_summary(path, partial)
    assert out["mlflow"] == {"run_id": "r"} and out["work"] == {"hvps": 8}
    assert out["timings"] == {"train": 1.0, "analyze": 2.0}
    assert [s["step"] for s in out["steps"]] == [0, 5]
    assert out["steps"][0]["aposteriori"] == {"relative": 0.1}
    assert out["steps"][0]["sketch"]["hvps"] == 8
    other = write_summary(path, partial | {"k": 3})  # other settings: nothing carried over
    assert "mlflow" not in other and not list(tmp_path.glob(".*tmp"))
