"""Which format a path is, and ``parse``: bytes -> ``Parsed``, or a ``ConfigSyntaxError`` naming ``path:line``.

Each format's parser is imported when a file of that format is parsed: a pre-push check
that reads only YAML does not compile the TOML, JSON and dotenv regexes (issue 19).
"""

from __future__ import annotations

from pytest_rollout.diff.formats.common import BIG_INT, LONG_DIGITS, ConfigSyntaxError, Parsed, TooBig, line_at

_SUFFIX_FORMATS: tuple[tuple[str, str], ...] = (
    (".yaml", "yaml"),
    (".yml", "yaml"),
    (".json", "json"),
    (".jsonc", "json"),
    (".toml", "toml"),
)


def _format_of(path: str) -> str | None:
    name = path.rsplit("/", 1)[-1].lower()
    for suffix, fmt in _SUFFIX_FORMATS:
        if name.endswith(suffix):
            return fmt
    if name == ".env" or name.startswith(".env.") or name.endswith(".env"):
        return "env"
    return None


def is_structured(path: str) -> bool:
    """True for YAML, JSON, TOML and dotenv files (``.env``, ``.env.*``, ``*.env``)."""
    return _format_of(path) is not None


def parse(path: str, data: bytes, *, max_aliases: int = 1000) -> Parsed:
    """Parse one structured file's bytes; raise ``ConfigSyntaxError`` naming ``path:line``.

    Empty, whitespace-only and comment-only files have no values (not an error):
    a freshly created config is not malformed.
    """
    fmt = _format_of(path)
    if fmt is None:
        raise ValueError(f"{path}: not a structured config file (see is_structured)")
    text = _decode(path, data)
    if not text.strip():
        return Parsed({}, {})
    try:
        if fmt == "yaml":
            from pytest_rollout.diff.formats.yaml import parse_yaml

            return parse_yaml(path, text, max_aliases)
        if fmt == "json":
            from pytest_rollout.diff.formats.json import parse_json

            return parse_json(path, text)
        if fmt == "toml":
            from pytest_rollout.diff.formats.toml import parse_toml

            return parse_toml(path, text)
        from pytest_rollout.diff.formats.env import parse_env

        return parse_env(path, text)
    except RecursionError as exc:
        raise ConfigSyntaxError(path, 1, "nested too deeply to parse") from exc
    except TooBig:
        raise ConfigSyntaxError(path, line_at(text, LONG_DIGITS.search(text)), BIG_INT) from None


def _decode(path: str, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        what = f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        raise ConfigSyntaxError(path, line, what, f"{path}: {what}") from exc
    return text.removeprefix("\ufeff")  # a BOM is an encoding mark, not content
