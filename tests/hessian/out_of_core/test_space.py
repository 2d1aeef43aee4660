"""The space a sketch needs, against what its filesystem has free, before anything is written."""

import shutil

import pytest

from hessian.exceptions import InsufficientSpaceError
from hessian.out_of_core import SketchSettings, check_space


def test_what_a_store_needs():
    st = SketchSettings(D=1000, k=10, s=20, oversample=2)
    assert st.nbytes == 1000 * 12 * 4 + 20 * 20 * 8 + 1000 * 8 + 12 * 10 * 8 + 10 * 8 + 1 * 9


def test_too_little_space_is_refused_naming_both_numbers(tmp_path):
    free = shutil.disk_usage(tmp_path).free
    D = 10_510_346
    st = SketchSettings(D=D, k=5000, s=10_000, oversample=1250)  # the wide_mlp, k = 5000
    assert st.nbytes > 200e9
    if st.nbytes < free:
        pytest.skip(f"this disk has {free:,} bytes free")
    with pytest.raises(InsufficientSpaceError) as e:
        check_space([(str(tmp_path / "runs" / "s.zarr"), st)])
    msg = str(e.value)
    assert f"{st.nbytes:,} bytes" in msg and f"free on the filesystem of {tmp_path}" in msg
    assert not (tmp_path / "runs").exists()


def test_enough_space_and_remote_stores_pass(tmp_path):
    check_space([(str(tmp_path / "s.zarr"), SketchSettings(D=1000, k=10, s=20))])
    check_space([("memory://s.zarr", SketchSettings(D=10**9, k=1000, s=2000))])
