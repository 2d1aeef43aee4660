"""Every array of a sketch store is checksummed: a flipped bit or a deleted chunk in any of them
is detected, and a rerun repairs it (measuring blocks again, solving again, rewriting the
parameters) to a result equal to the undamaged one."""

import shutil

import numpy as np
import pytest
import zarr
from zarr.codecs import Crc32cCodec

from hessian.exceptions import CorruptBlockError, CorruptSolutionError
from hessian.out_of_core import SketchStore, repair_solution

from .helpers import run

ARRAYS = ["eigenvalues", "transform", "outer", "inner", "params", "done", "finished_at"]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    url = tmp_path_factory.mktemp("solution") / "s.zarr"
    run(url, k=12, s=24)
    store = SketchStore.open(str(url))
    return url, store.eigenvalues().copy(), store.transform().copy(), store.solution_id


def _chunk(url, name):
    files = sorted(p for p in (url / name / "c").rglob("*") if p.is_file())
    return files[len(files) // 2]


def damage(url, name, how):
    f = _chunk(url, name)
    if how == "delete":
        f.unlink()
    else:
        data = bytearray(f.read_bytes())
        data[max(0, len(data) // 2 - 3)] ^= 0x10  # a data byte, not the checksum
        f.write_bytes(bytes(data))


def test_every_array_has_a_checksum(pristine):
    group = zarr.open_group(str(pristine[0]), mode="r")
    for name in ARRAYS:
        assert any(isinstance(c, Crc32cCodec) for c in group[name].compressors), name


@pytest.mark.parametrize("how", ["flip", "delete"])
@pytest.mark.parametrize("name", ARRAYS)
def test_damage_is_detected_and_repaired(tmp_path, pristine, name, how):
    src, lam0, T0, sid0 = pristine
    url = tmp_path / "s.zarr"
    shutil.copytree(src, url)
    damage(url, name, how)
    store = SketchStore.open(str(url))
    if name in ("eigenvalues", "transform"):
        with pytest.raises(CorruptSolutionError):
            store.verify_solution()
    result, report = run(url, k=12, s=24)
    store = SketchStore.open(str(url))
    assert np.array_equal(store.eigenvalues(), lam0)
    assert np.array_equal(store.transform(), T0)
    assert store.solution_id == sid0
    repaired = " ".join(result.info.get("repaired", []))
    if name in ("eigenvalues", "transform"):
        assert "solved again from the intact sketches" in repaired
    elif name in ("outer", "inner", "done"):
        assert report.measured and not result.reused
    elif name == "params":
        assert "params" in repaired
    else:  # finished_at: when a block was written; unknown for the damaged one
        assert np.isnan(store.finished_at()).sum() == 1
    store.verify_solution()


def test_repair_solution_in_place(tmp_path, pristine):
    src, lam0, _, _ = pristine
    url = tmp_path / "s.zarr"
    shutil.copytree(src, url)
    assert repair_solution(str(url)) is None
    damage(url, "eigenvalues", "flip")
    line = repair_solution(str(url))
    assert "fail their checksum: solved again from the intact sketches" in line
    assert np.array_equal(SketchStore.open(str(url)).eigenvalues(), lam0)
    damage(url, "outer", "flip")
    with pytest.raises(CorruptBlockError):
        repair_solution(str(url))


def test_a_solution_without_checksums_is_not_trusted(tmp_path, pristine):
    src, lam0, _, _ = pristine
    url = tmp_path / "s.zarr"
    shutil.copytree(src, url)
    group = zarr.open_group(str(url), mode="r+")
    lam = group["eigenvalues"][:]
    group.create_array("eigenvalues", shape=lam.shape, dtype="float64", overwrite=True)
    group["eigenvalues"][:] = lam  # as an earlier version wrote it: no checksum
    with pytest.raises(CorruptSolutionError, match="without checksums"):
        SketchStore.open(str(url)).verify_solution()
    result, _ = run(url, k=12, s=24)
    assert not result.reused and np.array_equal(result.eigenvalues, lam0)
