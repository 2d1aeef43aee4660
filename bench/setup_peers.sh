#!/usr/bin/env bash
# Install the peer eigensolvers into .venv for bench/peers.py (never needed by the project or CI).
# curvlinops needs backpack, which requires torchvision, which would pull a newer CUDA torch
# (docs/stack.md): the peers and their torch-dependent helpers go in with --no-deps,
# their light dependencies normally; torch must still be the CPU 2.13.0 afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
PIP=(.venv/bin/pip install --quiet --disable-pip-version-check -c constraints.txt)
"${PIP[@]}" --no-deps curvlinops-for-pytorch==3.0.1 backpack-for-pytorch==1.7.1 skerch==1.2.0 \
  hessian-eigenthings==1.0.0a5 pyhessian==0.1 torch-dct linear_operator einconv unfoldNd \
  2> >(grep -v "is ignored" >&2)
"${PIP[@]}" tqdm einops opt_einsum h5py jaxtyping mpmath 2> >(grep -v "is ignored" >&2)
.venv/bin/python - <<'PY'
import importlib, torch
assert torch.__version__.startswith("2.13.0") and not torch.cuda.is_available(), torch.__version__
for m in ("curvlinops", "skerch", "hessian_eigenthings", "pyhessian"):
    try:
        importlib.import_module(m)
        print(f"{m}: ok")
    except Exception as e:  # the benchmark reports a peer that does not import, and why
        print(f"{m}: does not import ({type(e).__name__}: {e})")
print("torch", torch.__version__)
PY
