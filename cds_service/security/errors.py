"""Authentication errors and the response headers they need.

They are CdsErrors, so ``cds_service.errors`` renders them: the JSON body, and
the headers RFC 6750 asks for, which each gives in ``headers()``. Every message
is a fixed text chosen here: never a token, a claim value or a library
exception's text (PyJWT's may quote key material).
"""

from __future__ import annotations

from cds_service.errors import CdsError


class AuthError(CdsError):
    """Base of the authentication errors (their headers: ``headers()``)."""


#: The one text every 401 carries. Precise texts ("issuer is not trusted", "no key with this
#: kid"...) would tell an anonymous caller which issuers and kids are trusted;
#: they go to the log only, with the reason code.
GENERIC_401 = "The CDS client JWT is missing or not acceptable."


class Unauthorized(AuthError):
    """The request has no acceptable CDS client JWT (HTTP 401).

    ``reason`` is a short machine code and ``detail`` the precise fixed text, both for the
    log and tests (``expired``, ``replay``...); the client gets ``GENERIC_401`` only.
    """

    status = 401
    code = "login"

    def __init__(self, reason: str, detail: str):
        super().__init__(GENERIC_401)
        self.reason = reason
        self.detail = detail

    def headers(self) -> dict[str, str]:
        # Messages are our own constants; quotes/backslashes would break the header syntax.
        description = self.message.replace("\\", "").replace('"', "'")
        return {
            "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"',
        }


class AuthUnavailable(AuthError):
    """The token could not be checked now (key set unreachable, replay store down): HTTP 503.

    Not a 401: the token may be fine, and the client should retry, not re-issue.
    """

    status = 503
    code = "transient"

    def __init__(self, reason: str, message: str, retry_after: int = 5):
        super().__init__(message)
        self.reason = reason
        self.retry_after = max(1, int(retry_after))

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}
