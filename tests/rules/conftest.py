import pytest

from cds_service.pipeline import load_engine
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def engine():
    return load_engine(make_settings())
