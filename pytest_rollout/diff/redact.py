"""Secrets never leave the process: they become ``***`` before any output is built.

Names are split into words (``OPENAI_API_KEY`` -> openai, api, key; ``apiKey`` -> api, key)
and a name is secret when one word is a secret word (key, token, secret, password, auth,
credentials, ...). Whole words only, so ``max_tokens``, ``top_k``, ``tokenizer`` and
``keyboard_layout`` are not secrets while ``auth_token`` is.

What is masked:

* **Key paths** (``is_secret_key``): the whole value under a path with a secret segment
  (``llm.api_key``, ``OPENAI_API_KEY`` in a ``.env``). An identity list segment
  ``[name=X]`` (also ``[id=X]``, ``[key=X]``, ``[model_name=X]``) is judged by ``X``, so
  ``env[name=OPENAI_API_KEY].value`` is secret and ``filters[key=search]`` is not; the
  element's own identity field (``[key=search].key``) is judged by ``X`` too. ``[3]`` never is.
* **Mappings inside values**: an entry under a secret key; and the ``value`` of a
  name/value pair (``{"name": "API_KEY", "value": ...}``, likewise with ``key``/``id``,
  field names in any case) whose name is secret. In such a pair ``key`` is the name, not a
  secret.
* **Command-line lists**: the item after a flag with a secret name (``["--api-key", "abc"]``),
  unless that item is itself a flag.
* **Strings** (``scrub_text``, also applied to every string in a value): credential shapes
  (``sk-...``, ``AKIA...``, ``ghp_...``, ``xox?-...``, ``AIza...``, JWTs, PEM private keys);
  the password of a URL (``postgres://admin:***@db/x``); ``name=value`` with a secret name
  (``?key=***&x=1``, ``token=***``, ``--api-key=***``, ``DB_PASSWORD=***``), plus
  ``sig``/``signature`` as URL query parameters; ``--secret-flag value``; and quoted
  ``"name": value`` pairs with a secret name (a dict's repr in an error message).

Not masked: a secret under an innocent name in a list matched by index (``env[3].value``
when the list has no identity field), and a bare secret that has none of the shapes above.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "***"

_SECRET_WORDS = frozenset(
    {
        "key",
        "apikey",
        "token",
        "secret",
        "secrets",
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "credential",
        "credentials",
        "auth",
        "oauth",
        "authorization",
        "bearer",
        "cookie",
        "private",
    }
)
# Secret only as URL query parameters (a config key "signature" is a DSPy signature, not a secret).
_QUERY_SECRET_WORDS = _SECRET_WORDS | {"sig", "signature"}
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
# Well-known credential shapes (provider keys, cloud keys, JWTs, PEM blocks).
_CREDENTIAL = re.compile(
    r"(?:\bsk-[A-Za-z0-9_-]{16,}"
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}"
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}"
    r"|\bAIza[0-9A-Za-z_-]{35}"
    r"|(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{5,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----)"
)
# scheme://user:PASSWORD@host: the user may be empty (redis://:pw@host). Names and schemes
# are bounded so that no pattern rescans a long token from each of its characters.
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s/:@]*:)[^\s/@]+(?=@)")
_VALUE = r"(?:\"[^\"]*\"|'[^']*'|[^\s&;,\"'<>(){}\[\]#]+)"
# name=value, the name starting a token: query parameters, env assignments, --flag=value.
_ASSIGNMENT = re.compile(r"(?<![\w.-])(-{0,2}[A-Za-z_][\w.-]{0,100})=(" + _VALUE + ")")
# --flag value (the value is not itself a flag).
_FLAG_VALUE = re.compile(r"(?<![\w.-])(--?[A-Za-z][\w.-]{0,100})(\s+)((?!-)" + _VALUE + ")")
# "name": value and 'name': value, as in JSON or a dict's repr.
_QUOTED_PAIR = re.compile(r"([\"'])([^\"'\s]{1,100})\1(\s*:\s*)(\"[^\"]*\"|'[^']*'|[^\s,}\]]+)")
_FLAG = re.compile(r"--?[A-Za-z][\w.-]*")
_IDENTITY_SEGMENT = re.compile(r"\[([^=\]]+)=(.*)\]")
_PAIR_NAMES = ("name", "key", "id")


def key_words(segment: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(segment)]


def _is_secret_name(name: str, words: frozenset[str] = _SECRET_WORDS) -> bool:
    return any(w in words for w in key_words(name))


def is_secret_key(segments: Iterable[str]) -> bool:
    """True when any segment of a key path names a secret (``llm.api_key``, ``OPENAI_API_KEY``,
    ``env[name=OPENAI_API_KEY]``).

    An identity segment ``[field=X]`` names its element by ``X``: ``X`` is judged, never
    ``field`` (``[key=search]`` is not secret). The element's identity field right after it
    holds ``X`` itself, so it is judged by ``X`` too. ``[3]`` names a position, never a secret.
    """
    identity_field: str | None = None
    for seg in segments:
        if seg.startswith("["):
            match = _IDENTITY_SEGMENT.fullmatch(seg)
            identity_field = match.group(1) if match else None
            if match and _is_secret_name(match.group(2)):
                return True
            continue
        if seg != identity_field and _is_secret_name(seg):
            return True
        identity_field = None
    return False


def looks_like_credential(text: str) -> bool:
    return bool(_CREDENTIAL.search(text))


def scrub_text(text: str) -> str:
    """``text`` with every string-level rule applied (see the module docstring): for free
    text such as error messages, and for each string inside a value."""
    text = _CREDENTIAL.sub(MASK, text)
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + MASK, text)
    text = _ASSIGNMENT.sub(_mask_assignment, text)
    text = _FLAG_VALUE.sub(_mask_flag_value, text)
    return _QUOTED_PAIR.sub(_mask_quoted_pair, text)


def _mask_assignment(match: re.Match[str]) -> str:
    name = match.group(1)
    in_query = match.start() > 0 and match.string[match.start() - 1] in "?&"
    if _is_secret_name(name.lstrip("-"), _QUERY_SECRET_WORDS if in_query else _SECRET_WORDS):
        return f"{name}={_masked(match.group(2))}"
    return match.group(0)


def _mask_flag_value(match: re.Match[str]) -> str:
    flag, space, value = match.groups()
    return flag + space + _masked(value) if _is_flag_secret(flag) else match.group(0)


def _mask_quoted_pair(match: re.Match[str]) -> str:
    quote, name, colon, value = match.groups()
    return f"{quote}{name}{quote}{colon}{_masked(value)}" if _is_secret_name(name) else match.group(0)


def _masked(value: str) -> str:
    """MASK, keeping the quotes of a quoted value."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[0] + MASK + value[0]
    return MASK


def _is_flag_secret(flag: str) -> bool:
    return _is_secret_name(flag.lstrip("-"))


def redact(value: Any, segments: Iterable[str] = ()) -> Any:
    """``value`` with secrets masked: all of it under a secret key path, else what ``_scrub`` finds."""
    if value is None:
        return None
    if is_secret_key(segments):
        return MASK
    return _scrub(value)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return _scrub_mapping(value)
    if isinstance(value, list):
        return _scrub_list(value)
    return value


def _scrub_mapping(mapping: dict[Any, Any]) -> dict[Any, Any]:
    """Entries under secret keys are masked; in a name/value pair the name decides the value."""
    fields = {str(k).lower(): k for k in mapping}
    name_key = next((fields[f] for f in _PAIR_NAMES if f in fields), None)
    value_key = fields.get("value")
    if name_key is None or value_key is None:
        return {k: (MASK if is_secret_key([str(k)]) else _scrub(v)) for k, v in mapping.items()}
    name = mapping[name_key]
    out: dict[Any, Any] = {}
    for k, v in mapping.items():
        if k == name_key:
            out[k] = _scrub(v)
        elif k == value_key:
            out[k] = MASK if v is not None and _is_secret_name(str(name)) else _scrub(v)
        else:
            out[k] = MASK if is_secret_key([str(k)]) else _scrub(v)
    return out


def _scrub_list(items: list[Any]) -> list[Any]:
    """Each item scrubbed; the item after a secret flag (``"--api-key", "abc"``) masked."""
    out: list[Any] = []
    after_secret_flag = False
    for item in items:
        is_flag = isinstance(item, str) and _FLAG.fullmatch(item) is not None
        out.append(MASK if after_secret_flag and not is_flag and item is not None else _scrub(item))
        after_secret_flag = is_flag and _is_flag_secret(item)
    return out
