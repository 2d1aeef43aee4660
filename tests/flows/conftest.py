import pytest

import flows  # noqa: F401  (environment defaults before prefect is imported)

TINY = {
    "problem": "mnist_tiny",
    "train": {"record_steps": [0, 20, 40]},
    "sketch": {"k": 16, "s": 32, "vectors_per_pass": 8},
    "analysis": {"random_draws": 20},
}


@pytest.fixture(scope="session")
def prefect_server():
    """One temporary Prefect server (sqlite) for the whole session (~15 s once)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
