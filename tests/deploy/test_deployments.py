"""The deployments, registered on a temporary Prefect server: installed-module entrypoints, the
configuration made absolute, flow runs working in the directory ``register`` ran in."""

import importlib

from hessian_sketch.deploy import deployments


def test_register_the_pipeline_and_sketch(prefect_server, tmp_path, monkeypatch):
    from prefect.client.orchestration import get_client
    from prefect.flows import load_flow_from_entrypoint

    monkeypatch.chdir(tmp_path)
    (tmp_path / "study.yaml").write_text("problem: mnist_tiny\n")
    ids = deployments.register(pool="test-pool", config="study.yaml", interval=3600, step=0)
    assert set(ids) == {"pipeline", "sketch"}
    with get_client(sync_client=True) as client:
        for name, dep_id in ids.items():
            dep = client.read_deployment(dep_id)
            assert dep.entrypoint == deployments.ENTRYPOINTS[name]
            assert dep.work_pool_name == "test-pool"
            assert dep.parameters["config"] == str(tmp_path / "study.yaml")
            assert dep.pull_steps == [
                {"prefect.deployments.steps.set_working_directory": {"directory": str(tmp_path)}}
            ]
            assert [s.schedule.interval.total_seconds() for s in dep.schedules] == [3600]
            assert load_flow_from_entrypoint(dep.entrypoint).name == name
        assert client.read_work_pool("test-pool").type == "process"


def test_the_entrypoints_are_the_installed_flows():
    for name, entry in deployments.ENTRYPOINTS.items():
        module, fn = entry.rsplit(".", 1)
        assert module.startswith("hessian_sketch.flows.")
        assert getattr(importlib.import_module(module), fn).name == name
