"""HVP cost per vector against the block size (vectors per data pass). Not a test.

For each problem, the Hessian operator over its fixed subset (batches of ``--batch`` samples) is
applied to blocks of b random vectors; the time of one pass, divided by b, is the cost per
vector. Median of ``--repeats`` passes after one warm-up pass. Threads: torch's default (all
cores), numpy's BLAS parked during the products (as the operator does).

    .venv/bin/python bench/hvp_cost.py                       # all three problems, b = 1, 8, 32
    .venv/bin/python bench/hvp_cost.py --problems mnist_mini --blocks 1 8 32 128
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

import hessian
from hessian import problems


def measure(
    name: str, blocks: list[int], n_hessian: int, batch: int, repeats: int, dtype, device="cpu"
):
    """Per-vector HVP time at each block size (``device``: where the products run; a product
    ends with its finiteness check, which waits for the device)."""
    p = problems.load(name, n_hessian=n_hessian, dtype=dtype)
    rows = []
    for b in blocks:
        op = hessian.HessianOperator(
            p.model, p.hessian_data, batch_size=batch, vectors_per_pass=b,
            check_deterministic=False, device=device,
        )  # fmt: skip
        V = torch.randn(b, op.D, generator=torch.Generator().manual_seed(b), dtype=dtype)
        op.matmat_rows(V)  # warm-up
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            op.matmat_rows(V)
            times.append(time.perf_counter() - t)
        per_vec = statistics.median(times) / b
        rows.append({"problem": name, "D": op.D, "block": b, "seconds_per_vector": per_vec,
                     "device": str(op.device)})  # fmt: skip
        print(f"{name:>12} D={op.D:>11,} {op.device!s:>6} b={b:>4}: {1e3 * per_vec:9.2f} ms "
              "per vector", flush=True)  # fmt: skip
        del op
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", nargs="+", default=["mnist_mini", "mlp_1m", "wide_mlp"])
    ap.add_argument("--blocks", nargs="+", type=int, default=[1, 8, 32])
    ap.add_argument("--n-hessian", type=int, default=500)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--float64", action="store_true")
    ap.add_argument("--out", default="bench/results/hvp_cost.json")
    a = ap.parse_args()
    dtype = torch.float64 if a.float64 else torch.float32
    rows = []
    for name in a.problems:
        rows += measure(name, a.blocks, a.n_hessian, a.batch, a.repeats, dtype)
    meta = {
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "torch": torch.__version__,
        "dtype": str(dtype),
        "n_hessian": a.n_hessian,
        "batch": a.batch,
        "date": time.strftime("%Y-%m-%d"),
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print("\n| problem | D | " + " | ".join(f"b = {b}" for b in a.blocks) + " |")
    print("|---|---|" + "---|" * len(a.blocks))
    for name in a.problems:
        r = [x for x in rows if x["problem"] == name]
        cells = " | ".join(f"{1e3 * x['seconds_per_vector']:.2f} ms" for x in r)
        print(f"| {name} | {r[0]['D']:,} | {cells} |")


if __name__ == "__main__":
    main()
