"""Runs a sketch into a store from the command line, for the out-of-core tests' subprocesses.

python -m tests.hessian.out_of_core.runner URL SCHEDULER K S BLOCK [measure-only]
"""

import json
import sys

from hessian.operators import OperatorSpec
from hessian.out_of_core import run_measurements, sketch


def spec(block: int) -> OperatorSpec:
    return OperatorSpec("mnist_mini", dtype="float64", batch_size=None, vectors_per_pass=block)


def main() -> None:
    url, scheduler, k, s, block = sys.argv[1:6]
    scheduler = None if scheduler == "local" else scheduler
    if len(sys.argv) > 6 and sys.argv[6] == "measure-only":
        rep = run_measurements(url, scheduler=scheduler, progress=False)
        print(json.dumps({"measured": rep.measured}))
        return
    _, rep = sketch(
        url, spec(int(block)), k=int(k), s=int(s), seed=5, dtype="float64",
        scheduler=scheduler, progress=False,
    )  # fmt: skip
    print(json.dumps({"measured": rep.measured}))


if __name__ == "__main__":
    main()
