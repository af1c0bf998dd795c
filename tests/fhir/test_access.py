"""Allowlist and token handling (pure)."""

from __future__ import annotations

import pytest

from cds_service.fhir.access import (
    BearerToken,
    NoServerAccess,
    allowed_base,
    bearer_token,
    invalid_allowlist_entries,
    is_under_base,
    normalize_base_url,
    server_access,
)

from .helpers import BASE, TOKEN, hook_request


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("https://EHR.example.org/fhir/r4/", "https://ehr.example.org/fhir/r4"),
        ("https://ehr.example.org:443/fhir/r4", "https://ehr.example.org/fhir/r4"),
        ("http://127.0.0.1:8080/fhir", "http://127.0.0.1:8080/fhir"),
        ("HTTP://[::1]:80/", "http://[::1]"),
        ("https://ehr.example.org", "https://ehr.example.org"),
    ],
)
def test_normalize(url, normal):
    assert normalize_base_url(url) == normal


@pytest.mark.parametrize(
    "url",
    [
        "ftp://ehr.example.org/fhir",
        "https://user:pw@ehr.example.org/fhir",
        "https://ehr.example.org/fhir?x=1",
        "https://ehr.example.org/fhir#f",
        "https://ehr.example.org/fhir/../admin",
        "https://ehr.example.org:99999/fhir",
        "https:///fhir",
        "ehr.example.org/fhir",
        "https://ehr.example.org/fh ir",
        None,
        42,
        "",
    ],
)
def test_normalize_refuses_non_base_urls(url):
    assert normalize_base_url(url) is None


ALLOWED = ("https://ehr.example.org/fhir/r4/", "http://127.0.0.1:8080/fhir")


@pytest.mark.parametrize(
    ("server", "allowed"),
    [
        ("https://ehr.example.org/fhir/r4", True),
        ("https://EHR.example.org:443/fhir/r4/", True),
        ("http://127.0.0.1:8080/fhir/", True),
        ("http://ehr.example.org/fhir/r4", False),  # scheme differs
        ("https://ehr.example.org/fhir", False),  # parent path
        ("https://ehr.example.org/fhir/r4/other", False),  # another path below
        ("https://ehr.example.org.evil.test/fhir/r4", False),
        ("https://evil.test/?https://ehr.example.org/fhir/r4", False),
        ("http://127.0.0.1:8081/fhir", False),
        ("https://ehr.example.org@evil.test/fhir/r4", False),
    ],
)
def test_allowlist_matches_whole_base_urls(server, allowed):
    assert (allowed_base(server, ALLOWED) is not None) is allowed


def test_invalid_allowlist_entries_are_reported():
    assert invalid_allowlist_entries(["https://ok.example/fhir", "not a url", "ftp://x"]) == ["not a url", "ftp://x"]


@pytest.mark.parametrize(
    ("url", "under"),
    [
        (BASE + "/Condition?page=2", True),
        (BASE + "?_getpages=abc", True),
        ("HTTPS://EHR.example.org:443/fhir/r4/Condition", True),
        ("https://ehr.example.org/fhir/r4x/Condition", False),
        ("https://ehr.example.org/fhir/Condition", False),
        ("https://ehr.example.org/fhir/r4/../admin", False),
        ("https://ehr.example.org/fhir/r4/%2e%2e/admin", False),
        ("https://evil.test/fhir/r4/Condition", False),
        ("https://x@ehr.example.org/fhir/r4/Condition", False),
        ("http://ehr.example.org/fhir/r4/Condition", False),
    ],
)
def test_is_under_base(url, under):
    assert is_under_base(url, BASE) is under


def test_token_never_prints_itself():
    token = bearer_token({"access_token": TOKEN, "token_type": "bearer"})
    assert token.header() == f"Bearer {TOKEN}"
    for text in (repr(token), str(token), f"{token}", repr([token]), repr(server_access(hook_request(), [BASE]))):
        assert TOKEN not in text


@pytest.mark.parametrize(
    ("auth", "reason"),
    [
        ({"access_token": TOKEN, "token_type": "MAC"}, "unsupported-token-type"),
        ({"access_token": "abc\r\nX-Injected: 1", "token_type": "Bearer"}, "invalid-token"),
        ({"access_token": "has space", "token_type": "Bearer"}, "invalid-token"),
        ({"access_token": "", "token_type": "Bearer"}, "invalid-token"),
        ({"token_type": "Bearer"}, "invalid-token"),
        ("just-a-string", "invalid-token"),
    ],
)
def test_unusable_tokens(auth, reason):
    with pytest.raises(NoServerAccess) as info:
        bearer_token(auth)
    assert info.value.reason == reason
    assert "abc" not in str(info.value) and TOKEN not in str(info.value)


def test_server_access():
    access = server_access(hook_request(), [BASE])
    assert access.base_url == BASE and isinstance(access.token, BearerToken)
    assert server_access(hook_request(token=None), [BASE]).token is None  # open server, no token


@pytest.mark.parametrize(
    ("request_", "allowed", "reason"),
    [
        (hook_request(server=None), [BASE], "no-fhir-server"),
        (hook_request(server="https://elsewhere.example/fhir"), [BASE], "not-allowed-server"),
        (hook_request(), [], "not-allowed-server"),
        (hook_request(server="javascript:alert(1)"), [BASE], "not-allowed-server"),
    ],
)
def test_no_server_access(request_, allowed, reason):
    with pytest.raises(NoServerAccess) as info:
        server_access(request_, allowed)
    assert info.value.reason == reason
