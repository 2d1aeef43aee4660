"""The ``analyze`` flow: masks against every step's eigenspace, the exact reference, plots, and
``summary.json``."""

from __future__ import annotations

import time

from prefect import flow, get_run_logger

from hessian import out_of_core
from hessian.exceptions import CorruptBlockError, CorruptSolutionError
from hessian.out_of_core import SketchStore
from hessian_sketch.flows import report
from hessian_sketch.flows.common import cached, checkpoint_id, prepare
from hessian_sketch.flows.layout import Layout
from hessian_sketch.flows.plan import Plan
from hessian_sketch.flows.sketch import find_checkpoint, sketch
from hessian_sketch.tasks import analysis, sketching


def stored_sketches(plan: Plan, lay: Layout) -> list[dict]:
    """The run's solved sketch stores made with the configured sketch settings (for
    ``analyze`` on its own): step, url and identity (None where the solution is damaged);
    stores made with other settings are left out."""
    out = []
    sk = plan.sketch
    want = (sk.k, sk.s, sk.noise, sk.seed)
    for t in plan.train.record_steps:
        path = lay.sketch(t)
        if (path / "zarr.json").exists():
            store = SketchStore.open(str(path))
            st = store.settings
            if store.solved and (st.k, st.s, st.noise, st.seed) == want:
                try:
                    sid = sketching.identity(store, t)
                except CorruptSolutionError:
                    sid = None
                out.append({"id": sid, "step": t, "url": str(path), "reused": True})
    return out


def _checked(plan: Plan, stored: list[dict]) -> list[dict]:
    """The stored sketches with their sketches and solutions verified: a damaged solution is
    solved again from the intact sketches, damaged sketch blocks are measured again (the
    sketch flow), each with one line saying what was repaired."""
    log = get_run_logger()
    out = []
    for o in stored:
        t, url = o["step"], o["url"]
        try:
            fixed = out_of_core.repair_solution(url)
            if fixed:
                log.warning(f"step {t}: {fixed}")
            o = o | {"id": sketching.identity(SketchStore.open(url), t)}
        except CorruptBlockError as e:
            log.warning(f"step {t}: {e} in {url}: measuring them again")
            o = sketch(plan, t) | {"reused": False}
        out.append(_certified(plan, o))
    return out


def _certified(plan: Plan, o: dict) -> dict:
    """A stored step with its certificate; in accurate mode, the certified store instead of the
    single-pass one where it is solved (the single-pass certificate kept beside it)."""
    from hessian.out_of_core import BasisStore

    lay = plan.layout
    t = o["step"]
    cert = SketchStore.open(o["url"]).certificate()
    o = o | {"mode": "single-pass", "certificate": cert.record() if cert else None}
    acc = lay.accurate(t)
    if plan.accurate is not None and (acc / "zarr.json").exists():
        store = BasisStore.open(str(acc))
        if store.solved and store.settings.k == plan.accurate.k:
            single = {k: o[k] for k in ("id", "url", "certificate")}
            rec = store.certificate().record()
            o = o | {"id": sketching.identity(store, t), "url": str(acc), "mode": "accurate",
                     "certificate": rec, "single_pass": single}  # fmt: skip
    return o


@flow(name="analyze")
def analyze(
    config: Plan | dict | str | None = None,
    sketches: list[dict] | None = None,
    checkpoints: dict | None = None,
    overrides: list[str] | None = None,
    extra: dict | None = None,
) -> dict:
    """Analyse every sketched step; write the plots and ``summary.json``; return the summary.

    Args:
        sketches: outcomes of the sketch flow (default: the solved stores in the run directory).
        checkpoints: step -> checkpoint info (default: found, training what is missing).
        extra: more top-level fields for the summary (e.g. the MLflow run).
    """
    plan = Plan.of(config, overrides or [])
    cfg = plan.config
    lay = prepare(plan)
    log = get_run_logger()
    t0 = time.perf_counter()
    sketches = sketches if sketches is not None else _checked(plan, stored_sketches(plan, lay))
    if not sketches:
        raise FileNotFoundError(
            f"no solved sketches in {lay.root / 'sketches'}: run `hessian sketch` or "
            "`hessian run` first"
        )
    sketches = sorted(sketches, key=lambda o: o["step"])
    cks = {int(t): c for t, c in (checkpoints or {}).items()}
    steps_out, analyses, exacts, cached_names = [], [], [], []
    for o in sketches:
        t = o["step"]
        ck = cks.get(t) or find_checkpoint(plan, t)
        cks[t] = ck
        st = cached(analysis.analyze_step, lay)(
            o["id"], checkpoint_id(ck), plan.analysis, return_state=True
        )
        a = st.result()
        if st.name == "Cached":
            cached_names.append(f"analyze-step {t}")
        ex = None
        if t in cfg.exact_steps():
            st = cached(analysis.exact_reference, lay)(
                str(lay.exact(t)), checkpoint_id(ck), o["id"], plan.exact, plan.analysis,
                return_state=True,
            )  # fmt: skip
            ex = st.result()
            if st.name == "Cached":
                cached_names.append(f"exact-reference {t}")
            exacts.append(ex["analysis"])
        analyses.append(a)
        steps_out.append(report.step_record(o, ck, a, ex))
        log.info(report.step_line(steps_out[-1], cfg.sketch.k))
    across = {}
    if len(sketches) > 1:
        st = cached(analysis.across_steps, lay)(
            [o["id"] for o in sketches],
            {o["step"]: checkpoint_id(cks[o["step"]]) for o in sketches},
            return_state=True,
        )
        across = st.result()
        if st.name == "Cached":
            cached_names.append("across-steps")
    certs = {s["step"]: s["certificate"] for s in steps_out if s.get("certificate")}
    files = analysis.make_plots(
        str(lay.plots), analyses, exacts, across, max(cfg.analysis.table_ks), certs
    )
    summary = report.summary(cfg, steps_out, across, plots=files, extra=extra)
    summary["cached_tasks"] = cached_names
    summary["timings"]["analyze"] = time.perf_counter() - t0
    summary = report.write_summary(lay.summary, summary)
    log.info(f"summary: {lay.summary}")
    return summary
