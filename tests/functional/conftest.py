import pytest

from tests.functional.transport import FlaskTransport, LiveTransport


@pytest.fixture(params=["flask", "gunicorn"])
def http(request):
    """Each test using this runs twice: Flask test client, then the live gunicorn service."""
    if request.param == "flask":
        return FlaskTransport(request.getfixturevalue("client"))
    return LiveTransport(request.getfixturevalue("live_service"))


#: Same body limit as the live service fixture, so both transports agree on 413.
BODY_LIMIT = 200_000


@pytest.fixture
def settings():
    from tests.conftest import make_settings

    return make_settings(max_body_bytes=BODY_LIMIT)
