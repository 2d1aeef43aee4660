import pytest

from .synthetic import matrices


@pytest.fixture(scope="module")
def mats():
    return matrices()
