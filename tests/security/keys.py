"""Signing keys and token builders for the security tests (real ES384/RS384 signatures)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private: Any

    @classmethod
    def es384(cls, kid: str) -> "SigningKey":
        return cls(kid, "ES384", ec.generate_private_key(ec.SECP384R1()))

    @classmethod
    def rs384(cls, kid: str, bits: int = 2048) -> "SigningKey":
        return cls(kid, "RS384", rsa.generate_private_key(public_exponent=65537, key_size=bits))

    def public_jwk(self, **extra: Any) -> dict:
        algo = ECAlgorithm if self.alg.startswith("ES") else RSAAlgorithm
        jwk = algo.to_jwk(self.private.public_key(), as_dict=True)
        jwk.update({"kid": self.kid, "use": "sig", "alg": self.alg})
        jwk.update(extra)
        return jwk

    def sign(self, claims: dict, **header: Any) -> str:
        headers = {"kid": self.kid, "typ": "JWT", **header}
        headers = {k: v for k, v in headers.items() if v is not None}
        return jwt.encode(claims, self.private, algorithm=self.alg, headers=headers)


def claims(iss: str, aud: Any, lifetime: int = 300, **extra: Any) -> dict:
    """Claims as a CDS client sends them; ``extra`` overrides or, with None, removes."""
    now = int(time.time())
    out = {"iss": iss, "aud": aud, "exp": now + lifetime, "iat": now, "jti": str(uuid.uuid4())}
    out.update(extra)
    return {k: v for k, v in out.items() if v is not None}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(header: dict, payload: dict, signature: bytes = b"") -> str:
    segments = [b64url(json.dumps(header).encode()), b64url(json.dumps(payload).encode())]
    return ".".join(segments + [b64url(signature)])


def hs256_token(header: dict, payload: dict, secret: bytes) -> str:
    """HS256 by hand: PyJWT refuses to HMAC with a public key, an attacker would not."""
    signing_input = unsigned_token(header, payload).rsplit(".", 1)[0]
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"
