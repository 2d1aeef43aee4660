"""Open a solved store of either kind: a single-pass sketch (``SketchStore``) or an accurate
solve (``BasisStore``). Both answer the same read API: ``eigenvalues()``, ``transform()``,
``read_outer(a, b)`` (V = read_outer @ transform), ``row_chunks()``, ``solution_id``,
``settings.D``, so every streamed pass (overlaps, gather, a-posteriori error) reads either."""

from __future__ import annotations

from pathlib import Path

import zarr

from hessian.exceptions import StoreMismatchError


def open_solution(url: str, mode: str = "r"):
    """The store at ``url`` as a ``SketchStore`` or a ``BasisStore``, by its format."""
    from hessian.out_of_core.basis_store import FORMAT, BasisStore
    from hessian.out_of_core.store import SketchStore

    local = url.removeprefix("file://")
    if "://" not in local and not (Path(local) / "zarr.json").exists():
        raise FileNotFoundError(f"no store at {url}")
    try:
        fmt = zarr.open_group(local if "://" not in local else url, mode="r").attrs.get("format")
    except FileNotFoundError as e:
        raise FileNotFoundError(f"no store at {url}") from e
    if fmt == FORMAT:
        return BasisStore.open(url, mode)
    if fmt is None:
        raise StoreMismatchError(f"{url} is a Zarr group but not a store of this library")
    return SketchStore.open(url, mode)


def certificate_of(store):
    """The stored certificate of a solved store (None where none was stored)."""
    if hasattr(store, "certificate"):
        return store.certificate()
    return store.certificate_record() if hasattr(store, "certificate_record") else None
