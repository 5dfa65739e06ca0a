"""Secrets never leave the process: values under secret-looking keys, and
credential-shaped strings anywhere, become ``***`` before any output is built.

Key names are split into words (``OPENAI_API_KEY`` -> openai, api, key;
``apiKey`` -> api, key) and matched as whole words, so ``max_tokens`` (word
"tokens") is not a secret while ``auth_token`` is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "***"

_SECRET_WORDS = frozenset(
    {"key", "apikey", "token", "secret", "secrets", "password", "passwd", "pwd", "passphrase",
     "credential", "credentials", "auth", "oauth", "authorization", "bearer", "cookie", "private"}
)
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
# Well-known credential shapes (provider keys, cloud keys, JWTs, PEM blocks).
_CREDENTIAL = re.compile(
    r"(?:\bsk-[A-Za-z0-9_-]{16,}"
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}"
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}"
    r"|\bAIza[0-9A-Za-z_-]{35}"
    r"|\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{5,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----)"
)


def key_words(segment: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(segment)]


def is_secret_key(segments: Iterable[str]) -> bool:
    """True when any segment of a key path names a secret (``llm.api_key``, ``OPENAI_API_KEY``)."""
    # List positions ("[3]", "[key=search]") name an element, not a secret.
    return any(w in _SECRET_WORDS for seg in segments if not seg.startswith("[") for w in key_words(seg))


def looks_like_credential(text: str) -> bool:
    return bool(_CREDENTIAL.search(text))


def redact(value: Any, segments: Iterable[str] = ()) -> Any:
    """``value`` with secrets masked: all of it under a secret key, else credential-shaped strings."""
    if value is None:
        return None
    if is_secret_key(segments):
        return MASK
    return _scrub(value)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _CREDENTIAL.sub(MASK, value)
    if isinstance(value, dict):
        return {k: (MASK if is_secret_key([str(k)]) else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value
