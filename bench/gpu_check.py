"""The GPU check: CUDA products equal the CPU ones, HVP cost per vector on GPU and CPU, and an
out-of-core sketch with its products on the GPU. Not a test; one command, < 8 min on one GPU.

    .venv/bin/python bench/gpu_check.py              # everything; without CUDA: the CPU parts
    .venv/bin/python bench/gpu_check.py --quick      # smaller blocks and repeats

1. Equality, float64: the test nets (the small MLP and CNN of tests/conftest.py, mnist_tiny, the
   digits CNN of examples/), Hessian and GGN, one block of 16 host-drawn test vectors on
   ``cuda`` against ``cpu``: relative error < 1e-10; and the test vectors of a store block
   round-trip through the device bitwise.
2. HVP per-vector time against the block size (vectors per pass) on mlp_1m and wide_mlp,
   float32, the GPU against this machine's CPU (median of the repeats after one warm-up).
3. An out-of-core wide_mlp sketch at k = 100 (s = 200) with the products on the GPU (one Dask
   worker per GPU), its total time against its HVP floor: s times the GPU's per-vector time at
   the sketch's vectors per pass.

Without CUDA the GPU parts are skipped and said so; nothing is estimated. Results go to
``bench/results/gpu_check.json`` (BENCHMARKS.md's GPU section is written from it by hand).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/ and examples/ for the test nets
sys.path.insert(0, str(ROOT / "bench"))

from hvp_cost import measure  # noqa: E402

from hessian import out_of_core, problems  # noqa: E402
from hessian.operators import GGNOperator, HessianOperator, OperatorSpec  # noqa: E402
from hessian.solvers.sketching_matrices import sketch_pair  # noqa: E402


def test_nets():
    """(name, model, data) of the nets the tests check the operators on, in float64."""
    from tests.conftest import small_cnn, small_data, small_mlp

    yield "small_mlp", small_mlp(), small_data("mlp")
    yield "small_cnn", small_cnn(), small_data("cnn")
    for name in ("mnist_tiny", "examples.digits_cnn:factory"):
        p = problems.load(name, n_hessian=100, dtype=torch.float64)
        yield name, p.model, p.hessian_data


def equality(cuda: torch.device) -> list[dict]:
    rows = []
    for name, model, data in test_nets():
        for cls in (HessianOperator, GGNOperator):
            cpu = cls(model, data, dtype=torch.float64, device="cpu", vectors_per_pass=16)
            gpu = cls(model, data, dtype=torch.float64, device=cuda, vectors_per_pass=16)
            V = np.random.default_rng(0).standard_normal((16, cpu.D))
            a, b = cpu.host_rows(V).copy(), gpu.host_rows(V).copy()
            err = float(np.abs(a - b).max() / np.abs(a).max())
            ok = err < 1e-10
            rows.append({"net": name, "operator": cls.kind, "D": cpu.D, "rel_err": err, "ok": ok})
            print(f"{name:>28} {cls.kind:>7} D={cpu.D:>6,}: rel. err {err:.2e} "
                  f"{'ok' if ok else 'FAIL'}", flush=True)  # fmt: skip
    Phi_R, _ = sketch_pair("sparse", 64, 1_015_210, seed=3)
    rows_host = Phi_R.rows(0, 32, dtype=np.float32)
    back = torch.from_numpy(rows_host).to(cuda).cpu().numpy()
    same = rows_host.tobytes() == back.tobytes()
    rows.append({"net": "test vectors (sparse, D = 1,015,210)", "bitwise": same, "ok": same})
    print(f"test vectors through {cuda}: {'bitwise equal' if same else 'DIFFER'}", flush=True)
    return rows


def hvp_times(device, names, blocks, repeats) -> list[dict]:
    return [r for name in names
            for r in measure(name, blocks, 500, 500, repeats, torch.float32, device)]  # fmt: skip


def ooc_sketch(floor_per_vector: float, vectors_per_pass: int) -> dict:
    spec = OperatorSpec("wide_mlp", device="cuda", vectors_per_pass=vectors_per_pass)
    with tempfile.TemporaryDirectory(dir=ROOT / "bench") as d:
        t = time.perf_counter()
        res, rep = out_of_core.sketch(f"{d}/h.zarr", spec, k=100, s=200, progress=False)
        total = time.perf_counter() - t
    floor = 200 * floor_per_vector
    out = {"problem": "wide_mlp", "k": 100, "s": 200, "vectors_per_pass": vectors_per_pass,
           "seconds": total, "hvp_seconds": rep.hvp_seconds, "hvp_floor_seconds": floor,
           "workers": rep.workers, "top_eigenvalue": float(res.eigenvalues[0])}  # fmt: skip
    print(
        f"out-of-core wide_mlp k = 100 on the GPU: {total:.1f} s in all, products "
        f"{rep.hvp_seconds:.1f} s, HVP floor {floor:.1f} s ({total / floor:.1f}x)",
        flush=True,
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer blocks and repeats")
    ap.add_argument("--out", default=str(ROOT / "bench/results/gpu_check.json"))
    a = ap.parse_args()
    cuda = torch.cuda.is_available()
    repeats = 2 if a.quick else 3
    cpu_blocks = [1, 8] if a.quick else [1, 8, 32]
    gpu_blocks = [1, 8, 32] if a.quick else [1, 8, 32, 128]
    names = ["mlp_1m", "wide_mlp"]
    result = {
        "command": " ".join(["bench/gpu_check.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d"),
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
    }
    t0 = time.perf_counter()
    if cuda:
        result["equality"] = equality(torch.device("cuda", 0))
        result["hvp_gpu"] = hvp_times(torch.device("cuda", 0), names, gpu_blocks, repeats)
    else:
        print("no CUDA device (torch sees none): the GPU parts are skipped; CPU timings only",
              flush=True)  # fmt: skip
    result["hvp_cpu"] = hvp_times(torch.device("cpu"), names, cpu_blocks, repeats)
    if cuda:
        b = 32
        per = next(r["seconds_per_vector"] for r in result["hvp_gpu"]
                   if r["problem"] == "wide_mlp" and r["block"] == b)  # fmt: skip
        result["ooc_gpu"] = ooc_sketch(per, b)
    result["seconds"] = time.perf_counter() - t0
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=1))
    print(f"{result['seconds']:.0f} s; written to {a.out}")
    ok = all(r["ok"] for r in result.get("equality", []))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
