"""Runs a sketch into a store from the command line, for the out-of-core tests' subprocesses.

python -m tests.hessian.out_of_core.runner URL SCHEDULER K S BLOCK [measure-only | accurate]

(``accurate``: the out-of-core accurate solver at k = K with blocks of BLOCK; S is ignored.)
"""

import json
import sys

from hessian.operators import OperatorSpec
from hessian.out_of_core import AccurateRequest, accurate, run_measurements, sketch


def spec(block: int) -> OperatorSpec:
    return OperatorSpec("mnist_mini", dtype="float64", batch_size=None, vectors_per_pass=block)


def accurate_request(k: int, block: int, **kw) -> AccurateRequest:
    return AccurateRequest(spec(block), k=k, block=block, dtype="float64", seed=5, **kw)


def main() -> None:
    url, scheduler, k, s, block = sys.argv[1:6]
    scheduler = None if scheduler == "local" else scheduler
    if len(sys.argv) > 6 and sys.argv[6] == "accurate":
        res = accurate(url, accurate_request(int(k), int(block)), scheduler=scheduler)
        print(json.dumps({"certified": res.certificate.certified_rank}))
        return
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
