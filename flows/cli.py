"""The ``hessian`` command: run the study, or one stage of it, and open the MLflow UI.

hessian run                    the default study (mnist_mini, the paper's settings)
hessian run my.yaml --set sketch.k=100
hessian train | sketch --step 300 | analyze | exact --step 300   [CONFIG]
hessian ui                     the MLflow UI of the default run directory, on 127.0.0.1
hessian config [PROBLEM]       print a problem's resolved default configuration
hessian deploy ...             servers, worker and deployments (deploy/README.md)

Every known failure is one line on stderr and an exit code (2: bad input, a file or store of
another run, too little disk space, a diverged training; 3: a server is down; 1: anything
else); ``--debug`` (or ``HESSIAN_DEBUG=1``) shows the traceback instead. Bad input is refused
before the temporary Prefect server starts and before anything in the run directory is written.
Commands that run flows run them in a supervised child process (``_supervise``): Ctrl-C and
SIGTERM stop the run and everything it started within seconds, and say how to resume.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hessian.defaults import MAX_DENSE_D

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="Top Hessian eigenspaces by sketching, related to parameter masks "
    "(Fernandez et al., TMLR 2025).",
)  # fmt: skip
console = Console()
err = Console(stderr=True, soft_wrap=True)  # one message, one line: never wrapped
UI_PORT = 5000  # `hessian ui`'s port (MLflow's own default)


def _add_deploy() -> None:
    from hessian_sketch.deploy.cli import app as deploy_app

    app.add_typer(deploy_app, name="deploy")


_add_deploy()

ConfigArg = Annotated[
    Path | None, typer.Argument(help="YAML or TOML run configuration (default: the default study)")
]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", help="override a field: section.field=value")
]


def _plan(path: Path | None, overrides: list[str] | None, *, accept: bool | None = None):
    """The run's plan: its configuration, validated once here, and the stages' requests;
    ``accept``: also run the preflight checks (True: with the sketch stores) before anything
    starts. Errors propagate to ``main``, which prints them as one line."""
    from hessian_sketch.flows.plan import Plan

    plan = Plan.of(path, overrides or [])
    if accept is not None:
        from hessian_sketch.flows import preflight

        preflight.check(plan, sketches=accept)
    return plan


def _servers_up(cfg, *, tracking: bool = False, dask: bool = False) -> None:
    """Stop before starting when a configured server is down: one line, exit code 3."""
    from hessian_sketch.tasks.uris import unreachable

    checks = []
    if os.environ.get("PREFECT_API_URL"):
        hint = "unset it for a temporary local server, or start it: hessian deploy prefect-server"
        checks.append(("prefect", os.environ["PREFECT_API_URL"], hint))
    if tracking:
        from hessian_sketch.flows.tracking import tracking_uri

        uri = tracking_uri(cfg)
        if uri.startswith(("http://", "https://")):
            checks.append(("mlflow", uri, "start it (hessian deploy mlflow-server) or set "
                           "tracking.uri / MLFLOW_TRACKING_URI to another store"))  # fmt: skip
    if dask and cfg.dask.address:
        hint = "start it (hessian deploy dask-scheduler) or unset dask.address for a local cluster"
        checks.append(("dask", cfg.dask.address, hint))
    for what, url, hint in checks:
        problem = unreachable(what, url)
        if problem:
            err.print(f"[red]error:[/] {problem}: {hint}")
            raise typer.Exit(3)


def _plan_checked(plan, *, sketches: bool) -> None:
    from hessian_sketch.flows import preflight

    preflight.check(plan, sketches=sketches)


def _recorded(cfg, step: int) -> None:
    if step not in cfg.train.record_steps:
        err.print(
            f"[red]error:[/] step {step} is not a recorded step of this run "
            f"(train.record_steps: {cfg.train.record_steps})"
        )
        raise typer.Exit(2)


_ARGV: list[str] = []  # the command line (without --debug), for the supervised child


def _run(name: str, plan, *args):
    """Run the flow ``name`` on ``plan`` (and ``args``), the run already accepted: from the
    ``hessian`` process, hand it to a supervised child (``_supervise``: clean interrupts) and
    exit with its code; in the child, import the flow and run it (errors go to ``main``: one
    line each; Prefect's tracebacks are kept out of the console unless debugging).

    The flow is imported only in the child: the ``hessian`` process validates and supervises,
    and never imports Prefect, MLflow or Dask (each costs seconds). Each flow shares its name
    with its module."""
    import importlib

    from hessian_sketch.flows import _errors, _supervise

    if not _supervise.supervised():
        rc = _supervise.run(_ARGV or sys.argv[1:], str(plan.config.run_dir))
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)  # at once: the child is gone, and a full interpreter shutdown takes seconds
    # imported before the tracebacks are quieted: importing Prefect sets up its loggers
    flow = getattr(importlib.import_module(f"hessian_sketch.flows.{name}"), name)
    _errors.quiet_tracebacks()
    return flow(plan, *args)


@app.command()
def run(config: ConfigArg = None, set_: SetOpt = None) -> None:
    """Run the pipeline: train, sketch every recorded step, analyse, track in MLflow."""
    plan = _plan(config, set_, accept=True)
    cfg = plan.config
    _servers_up(cfg, tracking=True, dask=True)
    summary = _run("pipeline", plan)
    from hessian_sketch.flows.report import table
    from hessian_sketch.tasks.uris import ui_link

    console.print(table(summary))
    _certificate_warning(summary["steps"])
    work = summary["work"]
    console.print(
        f"[bold]done[/] in {summary['timings']['total']:.0f} s: trained "
        f"{len(work['trained_steps'])}"
        f" steps, measured {len(work['measured_steps'])} sketches ({work['hvps']:,} HVPs) this run"
    )
    console.print(f"run directory: {cfg.run_dir}  (summary.json, plots/, sketches/)")
    ml = summary["mlflow"]
    uri = ml["tracking_uri"]
    if uri.startswith(("http://", "https://")):
        console.print(f"MLflow: {ui_link(uri, ml['experiment_id'], ml['run_id'])}", soft_wrap=True)
    else:
        link = ui_link(f"http://127.0.0.1:{UI_PORT}", ml["experiment_id"], ml["run_id"])
        ui_cmd = f"hessian ui {config}" if config else "hessian ui"
        console.print(f"MLflow: {uri}  ->  {ui_cmd}  ->  {link}", soft_wrap=True)


@app.command()
def train(config: ConfigArg = None, set_: SetOpt = None) -> None:
    """Train and checkpoint every recorded step (resumes)."""
    plan = _plan(config, set_, accept=False)
    _servers_up(plan.config)
    cks = _run("train", plan)
    for t, c in sorted(cks.items()):
        console.print(f"step {t}: loss {c['loss']:.4f}, accuracy {c['accuracy']:.3f}  {c['path']}")


@app.command()
def sketch(
    config: ConfigArg = None,
    step: Annotated[int, typer.Option(help="recorded step to sketch")] = 0,
    set_: SetOpt = None,
) -> None:
    """Sketch one recorded step (training it first if needed)."""
    plan = _plan(config, set_)
    _recorded(plan.config, step)
    _plan_checked(plan, sketches=True)
    _servers_up(plan.config, dask=True)
    out = _run("sketch", plan, step)
    lam = ", ".join(f"{v:.4g}" for v in _eigenvalues(out["url"])[:5])
    cert = out.get("certificate") or {}
    console.print(
        f"step {step}: {out['k']} eigenpairs in {out['url']} ({out['mode']}); top: {lam}; "
        f"a-posteriori relative error {out['aposteriori']['relative']:.3f}; certified "
        f"{cert.get('certified_rank', 0)}/{out['k']}"
    )
    _certificate_warning([out])


@app.command()
def analyze(config: ConfigArg = None, set_: SetOpt = None) -> None:
    """Analyse every solved sketch of the run: masks, metrics, plots, summary.json."""
    plan = _plan(config, set_, accept=False)
    cfg = plan.config
    from hessian_sketch.flows.analyze import stored_sketches

    _servers_up(cfg)
    lay = plan.layout
    if not stored_sketches(plan, lay):
        err.print(
            f"[red]error:[/] no solved sketches in {lay.root / 'sketches'}: run `hessian sketch`"
            " or `hessian run` first"
        )
        raise typer.Exit(2)

    summary = _run("analyze", plan)
    from hessian_sketch.flows.report import table

    console.print(table(summary))
    _certificate_warning(summary["steps"])
    console.print(f"summary: {Path(cfg.run_dir) / 'summary.json'}")


@app.command()
def exact(
    config: ConfigArg = None,
    step: Annotated[int, typer.Option(help="recorded step")] = 0,
    set_: SetOpt = None,
) -> None:
    """The dense float64 exact reference at one step (small problems only)."""
    plan = _plan(config, set_)
    cfg = plan.config
    _recorded(cfg, step)
    if cfg.D > MAX_DENSE_D:
        err.print(f"[red]error:[/] {cfg.problem}: D = {cfg.D:,} is too large for a dense reference")
        raise typer.Exit(2)
    _plan_checked(plan, sketches=False)
    _servers_up(cfg)
    out = _run("exact", plan, step)
    a = out["analysis"]
    k = a["k"]
    console.print(
        f"step {step}: exact top eigenvalues {', '.join(f'{v:.4g}' for v in a['eigenvalues'][:5])}"
        f"; overlap at k = {k}: magnitude {a['curves']['magnitude'][-1]:.4f}, "
        f"chance {a['curves']['chance'][-1]:.4f}; saved in {out['path']}"
    )
    if "comparison" in out:
        c = out["comparison"]
        console.print(
            f"sketch vs exact: subspace overlap {c['subspace_overlap'][-1]:.3f} at k = {k}, "
            f"median eigenvalue error {c['eigenvalue_relative_error_median']:.2e}"
        )


@app.command()
def ui(
    config: ConfigArg = None,
    port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = UI_PORT,
    tracking_uri: Annotated[str | None, typer.Option(help="default: the run's store")] = None,
) -> None:
    """The MLflow UI for a run's tracking store, on 127.0.0.1 only (opened on the model-training
    view: the link printed carries ?workflowType=machine_learning)."""
    from hessian_sketch.tasks.uris import TRAINING_VIEW

    server = f"http://127.0.0.1:{port}"
    link = f"{server}/#/experiments?{'='.join(TRAINING_VIEW)}"
    if tracking_uri is None:
        cfg = _plan(config, None).config
        from hessian_sketch.flows.tracking import tracking_uri as uri_of

        tracking_uri = uri_of(cfg)
        db = Path(cfg.run_dir) / "mlflow.db"
        if tracking_uri.startswith("sqlite") and not db.exists():
            err.print(f"[red]error:[/] no MLflow store at {db}: run `hessian run` first")
            raise typer.Exit(2)
        link = _last_run_link(Path(cfg.run_dir) / "summary.json", server) or link
    console.print(f"MLflow UI for {tracking_uri} on {server}; the run: {link}", soft_wrap=True)
    os.execvp(
        sys.executable,
        [sys.executable, "-m", "mlflow", "ui", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", tracking_uri, "--workers", "1"],
    )  # fmt: skip


@app.command("config")
def show_config(
    problem: Annotated[str, typer.Argument(help="problem name")] = "mnist_mini",
) -> None:
    """Print the resolved default configuration of a problem (a starting point for a file)."""
    from hessian_sketch.flows.config import ConfigError, RunConfig

    try:
        cfg = RunConfig(problem=problem).resolve()
    except (ConfigError, ValueError) as e:
        err.print(f"[red]error:[/] {e}")
        raise typer.Exit(2) from None
    console.print(cfg.to_yaml(), highlight=False, markup=False)


def _last_run_link(summary: Path, server: str) -> str | None:
    """The UI's link to the run recorded in a run directory's summary.json, if there is one."""
    from hessian_sketch.tasks.uris import ui_link

    try:
        ml = json.loads(summary.read_text())["mlflow"]
        return ui_link(server, ml["experiment_id"], ml["run_id"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _certificate_warning(steps) -> None:
    """One line when a step's eigenpairs are not all certified (no silent garbage)."""
    from hessian_sketch.flows.report import certificate_warning

    line = certificate_warning(steps)
    if line:
        err.print(f"[bold yellow]warning:[/] {line}")


def _eigenvalues(url: str):
    from hessian.out_of_core import open_solution

    return open_solution(url).eigenvalues()


def main() -> None:
    import hessian_sketch.flows._env  # noqa: F401
    from hessian_sketch.flows import _errors, _supervise

    argv = sys.argv[1:]
    if "--debug" in argv:
        argv = [a for a in argv if a != "--debug"]
        os.environ["HESSIAN_DEBUG"] = "1"
    _ARGV[:] = argv
    _supervise.child_setup()
    try:
        app(args=argv, prog_name="hessian")
    except Exception as e:
        if _errors.debugging():
            raise
        from rich.markup import escape

        line, code = _errors.one_line(e)
        err.print(f"[red]error:[/] {escape(line)}", highlight=False)
        sys.exit(code)


if __name__ == "__main__":
    main()
