"""Load ``config/app.yaml`` and ``deploy/serving.yaml`` into one frozen :class:`AppConfig`.

Both files are validated strictly: an unknown or missing key, or a value of the wrong type,
raises :class:`ConfigError` naming the file and the key, so a typo never silently falls back
to a default. PyYAML is the only dependency.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

APP_FILE = "config/app.yaml"
SERVING_FILE = "deploy/serving.yaml"


class ConfigError(ValueError):
    """A config file is missing, unparseable or has a bad key or value."""


@dataclass(frozen=True)
class LLMConfig:
    provider: str
    model: str
    temperature: float
    top_p: float
    max_tokens: int
    context_window: int


@dataclass(frozen=True)
class RetrievalConfig:
    chunk_size: int
    top_k: int
    embedding_model: str


@dataclass(frozen=True)
class ServingConfig:
    batch_size: int
    timeout_s: float
    max_concurrency: int


@dataclass(frozen=True)
class AppConfig:
    """Everything the assistant reads from its config files; ``root`` holds prompts/ and tools/."""

    llm: LLMConfig
    retrieval: RetrievalConfig
    serving: ServingConfig
    root: Path

    def with_values(self, **changes: Any) -> AppConfig:
        """A copy with dotted keys replaced, e.g. ``with_values(**{"llm.context_window": 32768})``."""
        sections = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for dotted, value in changes.items():
            section, _, key = dotted.partition(".")
            if section not in ("llm", "retrieval", "serving") or not key:
                raise ConfigError(f"with_values: {dotted!r} is not llm.*, retrieval.* or serving.*")
            sections[section] = dataclasses.replace(sections[section], **{key: value})
        return AppConfig(**sections)


def load_config(root: Path | str) -> AppConfig:
    """Read both config files below ``root`` (the example repository's top folder)."""
    root = Path(root)
    app = _read_yaml(root / APP_FILE)
    serving = _read_yaml(root / SERVING_FILE)
    _exact_keys(app, {"llm", "retrieval"}, APP_FILE, "")
    _exact_keys(serving, {"serving"}, SERVING_FILE, "")
    return AppConfig(
        llm=_section(LLMConfig, app["llm"], APP_FILE, "llm"),
        retrieval=_section(RetrievalConfig, app["retrieval"], APP_FILE, "retrieval"),
        serving=_section(ServingConfig, serving["serving"], SERVING_FILE, "serving"),
        root=root,
    )


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def _exact_keys(data: object, expected: set[str], file: str, where: str) -> None:
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: {where or 'top level'}: expected a mapping, got {type(data).__name__}")
    prefix = f"{where}." if where else ""
    missing, unknown = sorted(expected - set(data)), sorted(set(data) - expected)
    if missing:
        raise ConfigError(f"{file}: missing key(s): {', '.join(prefix + k for k in missing)}")
    if unknown:
        raise ConfigError(
            f"{file}: unknown key(s): {', '.join(prefix + k for k in unknown)}; allowed: {', '.join(sorted(expected))}"
        )


_SectionT = Any  # one of the section dataclasses


def _section(cls: type[_SectionT], data: object, file: str, name: str) -> _SectionT:
    fields = {f.name: f.type for f in dataclasses.fields(cls)}
    _exact_keys(data, set(fields), file, name)
    assert isinstance(data, dict)
    values: dict[str, Any] = {}
    for key, type_name in fields.items():
        values[key] = _coerce(data[key], str(type_name), f"{file}: {name}.{key}")
    return cls(**values)


def _coerce(value: object, type_name: str, where: str) -> object:
    """Accept exactly the declared type; an int is fine where a float is expected."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected {type_name}, got a boolean")
    if type_name == "int" and isinstance(value, int) and value > 0:
        return value
    if type_name == "float" and isinstance(value, (int, float)) and value >= 0:
        return float(value)
    if type_name == "str" and isinstance(value, str) and value:
        return value
    raise ConfigError(f"{where}: expected a {'positive ' if type_name == 'int' else ''}{type_name}, got {value!r}")
