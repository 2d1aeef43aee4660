import hessian_sketch.flows  # noqa: F401  (environment defaults before prefect is imported)

TINY = {
    "problem": "mnist_tiny",
    "train": {"record_steps": [0, 20, 40]},
    "sketch": {"k": 16, "s": 32, "vectors_per_pass": 8},
    "analysis": {"random_draws": 20},
}
