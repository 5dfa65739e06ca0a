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

import functools
import re
from collections.abc import Callable, Iterable
from typing import Any

MASK = "***"

_SECRET_WORDS = frozenset(
    {
        "key",
        "keys",
        "apikey",
        "apikeys",
        "token",
        "tokens",
        "secret",
        "secrets",
        "password",
        "passwords",
        "passwd",
        "passwds",
        "pwd",
        "pwds",
        "passphrase",
        "passphrases",
        "credential",
        "credentials",
        "creds",
        "auth",
        "oauth",
        "authorization",
        "bearer",
        "cookie",
        "cookies",
        "private",
        "privkey",
        "pat",
        "jwt",
        "webhook",
    }
)
# Secret only as the last word of a longer name: DB_PASS, SMTP_PW (not pass_rate, not pass alone).
_LAST_WORDS = frozenset({"pass", "pw"})
# token(s) next to a count word is a quantity, not a credential: max_tokens, num_tokens, token_limit.
_TOKEN_WORDS = frozenset({"token", "tokens"})
_COUNT_WORDS = frozenset(
    {
        "max",
        "min",
        "num",
        "n",
        "count",
        "total",
        "limit",
        "limits",
        "budget",
        "length",
        "len",
        "usage",
        "per",
        "input",
        "output",
        "prompt",
        "completion",
        "context",
        "stop",
        "special",
        "reserved",
        "generated",
        "bad",
        "eos",
        "bos",
        "pad",
        "unk",
        "vocab",
        "thinking",
        "reasoning",
        "cached",
    }
)


class _Rule:
    """A pattern compiled on first use: most texts need few of the rules, and compiling all of them
    cost every pre-push check ~2 ms (issue 19)."""

    __slots__ = ("source", "_compiled")

    def __init__(self, source: str) -> None:
        self.source = source
        self._compiled: re.Pattern[str] | None = None

    @property
    def re(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self.source)
        return self._compiled


# Secret only as URL query parameters (a config key "signature" is a DSPy signature, not a secret).
_QUERY_SECRET_WORDS = _SECRET_WORDS | {"sig", "signature"}
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
# A new shape needs its entry in tests/secret_corpus.py: the tests hold _CREDENTIAL_HINT to it.
# Well-known credential shapes. Every alternative starts with a literal prefix or a lookbehind
# that admits one start per run of characters, so a long token is scanned once (linear time).
_CREDENTIAL = _Rule(
    r"(?:(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{16,}"  # OpenAI (sk-proj-...), Anthropic (sk-ant-...), DeepSeek
    r"|(?<![A-Za-z0-9])[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"  # AWS access key ids
    r"|(?<![A-Za-z0-9])gh[pousr]_[A-Za-z0-9]{30,}"  # GitHub classic tokens
    r"|(?<![A-Za-z0-9])github_pat_[A-Za-z0-9_]{22,}"  # GitHub fine-grained tokens
    r"|(?<![A-Za-z0-9])glpat-[A-Za-z0-9_-]{20,}"  # GitLab
    r"|(?<![A-Za-z0-9])hf_[A-Za-z0-9]{30,}"  # Hugging Face
    r"|(?<![A-Za-z0-9])xox[abposre]-[A-Za-z0-9-]{10,}"  # Slack (xoxb-, xoxp-, ...)
    r"|(?<![A-Za-z0-9])xapp-[A-Za-z0-9-]{10,}"  # Slack app tokens
    r"|hooks\.slack\.com/services/[A-Za-z0-9/]{20,}"  # Slack webhooks
    r"|(?<![A-Za-z0-9])AIza[0-9A-Za-z_-]{35}"  # Google API keys
    r"|(?<![A-Za-z0-9])ya29\.[0-9A-Za-z_-]{20,}"  # Google OAuth access tokens
    r"|(?<![A-Za-z0-9])(?:gsk|r8|pplx|nvapi|npm)[_-][A-Za-z0-9_-]{20,}"  # Groq, Replicate, Perplexity, NVIDIA, npm
    r"|(?<![A-Za-z0-9])pypi-[A-Za-z0-9_-]{50,}"  # PyPI
    r"|(?<![A-Za-z0-9])[A-Za-z0-9]{52}JQQJ9[9DH][A-Za-z0-9]{26}(?:[A-Za-z0-9]{2}==)?"  # Azure AI services keys
    r"|(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}"  # Azure AD (Entra) client secrets
    r"|(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}=="  # Azure storage account keys
    r"|(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{5,}"  # JWTs
    # A PEM private key, header to footer (or to the end of the text when the footer is cut off).
    r"|-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----(?:[^-]|-(?!----END ))*"
    r"(?:-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)?)"
)
# "Bearer <token>", "Basic <base64>" (as in an Authorization header, or on its own).
_BEARER = _Rule(r"(?i:\b(?:bearer|basic)[ \t]+)(?=[A-Za-z0-9._~+/-]{12})([A-Za-z0-9._~+/-]+=*)")
# HTTP headers that carry credentials: everything after the colon, to the end of the line.
_HEADER = _Rule(
    r"(?i:(?<![\w-])((?:proxy-)?authorization|x-api-key|api-key|x-auth-token|cookie|set-cookie"
    r"|ocp-apim-subscription-key|x-goog-api-key)([ \t]*:[ \t]*))(?![ \t]*\*\*\*)[^\r\n]+"
)
# scheme://user:PASSWORD@host: the user may be empty (redis://:pw@host). Names and schemes
# are bounded so that no pattern rescans a long token from each of its characters.
_URL_PASSWORD = _Rule(r"(\b[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s/:@]*:)[^\s/@]+(?=@)")
_VALUE = r"(?:\"[^\"]*\"|'[^']*'|[^\s&;,\"'<>(){}\[\]#]+)"
_VALUE_AT = _Rule(_VALUE)
# name=value, the name starting a token: query parameters, env assignments, --flag=value.
_ASSIGNMENT = _Rule(r"(?<![\w.-])(-{0,2}[A-Za-z_][\w.-]{0,100})=")
# --flag value (the value is not itself a flag).
_FLAG_VALUE = _Rule(r"(?<![\w.-])(--?[A-Za-z][\w.-]{0,100})(\s+)((?!-)" + _VALUE + ")")
# "name": value and 'name': value, as in JSON or a dict's repr.
_QUOTED_PAIR = _Rule(r"([\"'])([^\"'\s]{1,100})\1(\s*:\s*)(\"[^\"]*\"|'[^']*'|[^\s,}\]]+)")
# name: value unquoted, as in YAML or a log line (DB_PASS: hunter2). Not after "::" or a path.
_BARE_PAIR = _Rule(r"(?<![\w.:/-])([A-Za-z_][\w-]{0,100}):[ \t]+")
_FLAG = _Rule(r"--?[A-Za-z][\w.-]*")
_IDENTITY_SEGMENT = re.compile(r"\[([^=\]]+)=(.*)\]")
_PAIR_NAMES = ("name", "key", "id")


def key_words(segment: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(segment)]


def _is_secret_name(name: str, words: frozenset[str] = _SECRET_WORDS) -> bool:
    parts = key_words(name)
    secret = [w for w in parts if w in words]
    if not secret:
        named = [w for w in parts if not w.isdigit()]  # DB_PASS_2 is DB_PASS
        return len(named) > 1 and named[-1] in _LAST_WORDS
    if all(w in _TOKEN_WORDS for w in secret) and any(w in _COUNT_WORDS for w in parts):
        return False  # max_tokens, num_tokens, token_limit: a quantity
    return True


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
    return bool(_CREDENTIAL.re.search(text))


#: The shortest text ``_CREDENTIAL`` can match (tests/test_redact.py derives it from the pattern).
SHORTEST_CREDENTIAL = 15
#: Every other rule needs one of these: "=" (assignments), ":" (headers, URLs, pairs), a space
#: (bearer tokens, flag values).
_TRIGGER = re.compile(r"[:=\s]")
_LOWER_HEX = re.compile(r"[0-9a-f]+")


def scrub_text(text: str) -> str:
    """``text`` with every string-level rule applied (see the module docstring): for free
    text such as error messages, and for each string inside a value."""
    if len(text) < SHORTEST_CREDENTIAL and _TRIGGER.search(text) is None:
        return text  # no rule can match (most values and keys: ``gpt-4o``, ``llm.model``): skip the eight scans
    if _LOWER_HEX.fullmatch(text) is not None:
        return text  # a commit id: every credential shape has a capital, "-", "_", ".", "~" or "=" in it
    if len(text) <= _MEMO_CHARS:
        return _scrub_memo(text)  # a report repeats its values (100 changes of one model: one scan)
    return _scrub_all(text)


_MEMO_CHARS = 200


@functools.lru_cache(maxsize=4096)
def _scrub_memo(text: str) -> str:
    return _scrub_all(text)


#: Every ``_CREDENTIAL`` shape holds 13 characters in a row of this class, or one of the literals
#: of the shapes with a "." or a space in them: a text without any skips the 25-way scan (most
#: values and key paths: "tool 3 of service 12", "llm.temperature").
_CREDENTIAL_HINT = re.compile(r"[A-Za-z0-9_+/~-]{13}|ya29\.|hooks\.slack\.com|eyJ|Q~|-----BEGIN")


def _scrub_all(text: str, hints: bool = True) -> str:
    """Each rule in turn; with ``hints``, a rule is skipped when its pattern's literal (":", "=",
    "-", "://", a space or tab after "Bearer") is not in the text (tests compare both ways)."""
    if not hints or _CREDENTIAL_HINT.search(text):
        text = _CREDENTIAL.re.sub(MASK, text)
    if not hints or " " in text or "\t" in text:
        text = _BEARER.re.sub(lambda m: m.group(0)[: m.start(1) - m.start(0)] + MASK, text)
    colon = not hints or ":" in text
    if colon:
        text = _HEADER.re.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
    if not hints or "://" in text:
        text = _URL_PASSWORD.re.sub(lambda m: m.group(1) + MASK, text)
    if not hints or "=" in text:
        text = _mask_after(_ASSIGNMENT.re, text, _assignment_is_secret)
    if not hints or "-" in text:
        text = _FLAG_VALUE.re.sub(_mask_flag_value, text)
    if colon:  # masking only ever adds MASK: no ":" appears that was not there
        text = _QUOTED_PAIR.re.sub(_mask_quoted_pair, text)
        text = _mask_after(_BARE_PAIR.re, text, lambda m: _is_secret_name(m.group(1)))
    return text


def scrub_name(text: str) -> str:
    """A key, a key path or a file path with credential shapes masked (``{ghp_...: true}``):
    names are shown, so only what is a credential by its shape goes."""
    if _CREDENTIAL_HINT.search(text) is None:
        return text
    return _CREDENTIAL.re.sub(MASK, text)


def scrub_strings(value: Any) -> Any:
    """Every string in a JSON-like document (mapping keys too) through ``scrub_text``: the last
    pass before a document is written, behind the masking done where each value was built."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {scrub_strings(k): scrub_strings(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_strings(v) for v in value]
    return value


def _mask_after(name: re.Pattern[str], text: str, secret: Callable[[re.Match[str]], bool]) -> str:
    """Mask the value after each ``name`` match that ``secret`` accepts. Only the names are
    matched, never the values, so an innocent pair cannot swallow the secret one after it
    (``fix: password: hunter2``, ``a=token=abc``)."""
    out: list[str] = []
    pos = 0
    for m in name.finditer(text):
        if m.start() < pos or not secret(m):
            continue
        value = _VALUE_AT.re.match(text, m.end())
        if value is not None:
            out += [text[pos : value.start()], _masked(value.group(0))]
            pos = value.end()
    return "".join([*out, text[pos:]])


def _assignment_is_secret(match: re.Match[str]) -> bool:
    in_query = match.start() > 0 and match.string[match.start() - 1] in "?&"
    return _is_secret_name(match.group(1).lstrip("-"), _QUERY_SECRET_WORDS if in_query else _SECRET_WORDS)


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
        return {_scrub_key(k): (MASK if is_secret_key([str(k)]) else _scrub(v)) for k, v in mapping.items()}
    name = mapping[name_key]
    out: dict[Any, Any] = {}
    for k, v in mapping.items():
        if k == name_key:
            out[k] = _scrub(v)
        elif k == value_key:
            out[k] = MASK if v is not None and _is_secret_name(str(name)) else _scrub(v)
        else:
            out[_scrub_key(k)] = MASK if is_secret_key([str(k)]) else _scrub(v)
    return out


def _scrub_key(key: Any) -> Any:
    """A mapping key that is itself a credential (``{ghp_...: true}``) is masked."""
    return scrub_name(key) if isinstance(key, str) else key


def _scrub_list(items: list[Any]) -> list[Any]:
    """Each item scrubbed; the item after a secret flag (``"--api-key", "abc"``) masked."""
    out: list[Any] = []
    after_secret_flag = False
    for item in items:
        is_flag = isinstance(item, str) and _FLAG.re.fullmatch(item) is not None
        out.append(MASK if after_secret_flag and not is_flag and item is not None else _scrub(item))
        after_secret_flag = is_flag and _is_flag_secret(item)
    return out


_PEM_BEGIN = _Rule(r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY")


def scrub_diff(path: str, diff: str) -> str | None:
    """A unified diff of a whole file, safe to print: None when the file's name is a secret
    (``secrets/api_key.txt``); else each line through ``scrub_text`` without its ``+``/``-``/`` ``
    marker (so ``-password: x`` is a pair like ``password: x``), and every line of a PEM private
    key, which spans lines, masked whole."""
    if is_secret_key(path.split("/")):
        return None
    out: list[str] = []
    in_key = False
    for line in diff.split("\n"):
        mark, body = line[:1], line[1:]
        if _PEM_BEGIN.re.search(body):
            in_key = True
        if in_key:
            out.append(mark + MASK)
            in_key = "-----END " not in body
        else:
            out.append(mark + scrub_text(body))
    return "\n".join(out)
