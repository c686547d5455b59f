"""SCRAM-SHA-256 password verifiers computed here, so the plaintext password never reaches the server's logs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

SCRAM_ITERATIONS = 4096  # PostgreSQL's default (scram_iterations)


def scram_sha_256_verifier(
    password: str, *, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS
) -> str | None:
    """The verifier PostgreSQL stores for `password` (as `psql \\password` computes it); None for non-ASCII.

    PostgreSQL normalizes non-ASCII passwords with SASLprep before hashing; ASCII ones are used as they are.
    For non-ASCII the caller sends the password itself and lets the server hash it.
    """
    if not password.isascii():
        return None
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("ascii"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    return f"SCRAM-SHA-256${iterations}:{_b64(salt)}${_b64(stored_key)}:{_b64(server_key)}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
