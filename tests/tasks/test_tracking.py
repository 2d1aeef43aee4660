"""MLflow tracking: experiments marked for the model-training view, runs, batched metrics."""

from mlflow import MlflowClient

from hessian_sketch.tasks import tracking, uris


def test_experiments_are_marked_for_the_training_view(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    key, kind = tracking.EXPERIMENT_KIND
    run = tracking.open_run.fn(
        uri, "fresh", run_name="r", artifact_location=None, params={"a": 1}, tags={"t": "x"}
    )
    client = MlflowClient(uri)
    assert (
        client.get_experiment(run["experiment_id"]).tags[key] == kind == "custom_model_development"
    )
    assert client.get_run(run["run_id"]).data.params == {"a": "1"}
    # an experiment made before (without the tag) gets it on its next run
    old = client.create_experiment("old")
    assert key not in client.get_experiment(old).tags
    again = tracking.open_run.fn(
        uri, "old", run_name="r", artifact_location=None, params={}, tags={}
    )
    assert again["experiment_id"] == old and client.get_experiment(old).tags[key] == kind
    n = tracking.log_values(uri, run["run_id"], metrics=[("m", 1.0, 0), ("m", None, 1)])
    assert n == 1
    assert run["ui_route"] == uris.ui_route(run["experiment_id"], run["run_id"])
