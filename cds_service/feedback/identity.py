"""Patients as keyed hashes: the store can tell "same patient" without holding an id.

HMAC-SHA256 with a secret key (``patient_hash_key``), not a plain salted hash:
patient ids are short and guessable, so without the key a stolen store cannot
be matched against candidate ids. The hash also covers the calling EHR (issuer
and tenant of its JWT), because patient ids are only unique within one EHR.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import g, has_request_context

#: store_meta key of the generated key, used when no patient_hash_key is set.
GENERATED_KEY_NAME = "patient_hash_key"


def new_key() -> str:
    return secrets.token_hex(32)


class PatientHasher:
    def __init__(self, key: str):
        """:raise ValueError: if ``key`` is empty (every patient would share one hash space with no secret)."""
        if not key:
            raise ValueError("patient hash key is empty")
        self._key = key.encode("utf-8")

    def __call__(self, patient_id: str, scope: str = "") -> str:
        message = f"{scope}\x1f{patient_id}".encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


def client_scope() -> str:
    """The calling EHR (JWT issuer and tenant), or "" outside an authenticated call."""
    client = g.get("cds_client") if has_request_context() else None
    if client is None or not getattr(client, "authenticated", False):
        return ""
    return f"{client.iss or ''}\x1f{client.tenant or ''}"
