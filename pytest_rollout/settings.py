"""The settings file: ``rollout.yaml`` or ``[tool.pytest-rollout]`` in ``pyproject.toml``.

One entry point, ``load_settings``, and one exception type, ``SettingsError``
(pre-commit's ``clientlib`` pattern). Models forbid unknown keys so a misplaced
key is an error, not a silently ignored setting; a validation error names the
file, the line (from the YAML node marks) and the field path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import asdict, field, fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, get_type_hints

from pytest_rollout import settings_cache
from pytest_rollout.errors import SettingsError
from pytest_rollout.frozen import dataclass
from pytest_rollout.models import DEFAULT_ORDER

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler, TypeAdapter
    from pydantic_core import CoreSchema

SETTINGS_FILES = ("rollout.yaml", "rollout.yml")
PYPROJECT_TABLE = "pytest-rollout"
_LAYER_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


class _After:
    """A field check pydantic runs after the field's own validation (as ``pydantic.AfterValidator``),
    named in an ``Annotated`` hint without importing pydantic: it is only imported to validate a
    settings file that is not in the cache (``settings_cache``)."""

    def __init__(self, check: Callable[[Any], Any]) -> None:
        self.check = check

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(self.check, handler(source))


class _Strict:
    """Frozen keyword-only dataclasses; pydantic validates them on demand (``validate_settings``)."""

    __pydantic_config__: ClassVar[dict[str, Any]] = {"extra": "forbid"}


def _key_rules_have_a_file_and_a_path(keys: tuple[str, ...]) -> tuple[str, ...]:
    from pytest_rollout.gate.layers import split_keypath

    for rule in keys:
        glob, sep, path = rule.partition(":")
        if not sep or not glob.strip() or not path.strip():
            raise ValueError(f'expected "FILEGLOB:KEYPATH" (e.g. "config/app.yaml:llm.model"), got {rule!r}')
        split_keypath(path.strip())  # a malformed path is a settings error with its line, not a crash
    return keys


@dataclass(frozen=True, kw_only=True)
class LayerRule(_Strict):
    """One layer of the map: whole files, and keys of structured files."""

    files: tuple[str, ...] = ()
    keys: Annotated[tuple[str, ...], _After(_key_rules_have_a_file_and_a_path)] = ()


@dataclass(frozen=True, kw_only=True)
class Coupling(_Strict):
    groups: tuple[tuple[str, ...], ...] | None = field(
        default=None, metadata={"description": "Layers that must not ship together; default: every layer in one group"}
    )
    max_layers_per_release: int = field(default=1, metadata={"ge": 1})


@dataclass(frozen=True, kw_only=True)
class OverrideSettings(_Strict):
    trailer: str = field(default="Rollout-Bundle-Approved", metadata={"pattern": r"^[A-Za-z0-9][A-Za-z0-9-]*$"})
    allowed: bool = True


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _a_duration(value: str | None) -> str | None:
    if value is not None and not _DURATION.match(value):
        raise ValueError(f'expected a duration like "30m", "24h" or "2d", got {value!r}')
    return value


@dataclass(frozen=True, kw_only=True)
class ReleaseSettings(_Strict):
    """What is deployed, and what a next layer must wait for (docs/reference.md, "Releases")."""

    deployed: str | None = field(
        default=None,
        metadata={"description": 'The deployed release: a tag glob ("refs/tags/deploy/prod/*"), a branch or a ref'},
    )
    require_measured: bool = field(
        default=False,
        metadata={"description": "Block the next layer until the deployed commit has a complete recorded run"},
    )
    min_soak: Annotated[str | None, _After(_a_duration)] = field(
        default=None, metadata={"description": 'How old the deployed release must be, e.g. "24h"'}
    )

    @property
    def min_soak_seconds(self) -> float | None:
        m = _DURATION.match(self.min_soak) if self.min_soak else None
        return float(m.group(1)) * _UNIT_SECONDS[m.group(2)] if m else None


def _layer_names(layers: dict[str, LayerRule] | None) -> dict[str, LayerRule] | None:
    if layers is not None:
        if not layers:
            raise ValueError("expected at least one layer (or omit `layers:` to use the defaults)")
        for name in layers:
            if not _LAYER_NAME.match(name) or name == "unclassified":
                raise ValueError(f"layer name {name!r}: use lower-case letters, digits, '-' or '_'")
    return layers


@dataclass(frozen=True, kw_only=True)
class Settings(_Strict):
    base: str | None = field(default=None, metadata={"description": "Default base ref when --base is not given"})
    layers: Annotated[dict[str, LayerRule] | None, _After(_layer_names)] = field(
        default=None, metadata={"description": "The layer map; omit for defaults"}
    )
    extend_defaults: bool = field(
        default=False, metadata={"description": "With `layers:`, keep the built-in defaults as a fallback"}
    )
    coupling: Coupling = Coupling()
    order: tuple[str, ...] | None = field(default=None, metadata={"description": "Ship order of a plan"})
    override: OverrideSettings = OverrideSettings()
    strict: bool = False
    max_file_size: int = field(
        default=1_048_576, metadata={"ge": 1, "description": "Bytes; larger files are not parsed"}
    )
    release: ReleaseSettings = ReleaseSettings()

    @classmethod
    def model_validate(cls, data: Any) -> Settings:
        """Validate a parsed settings document (imports pydantic); raises ``pydantic.ValidationError``."""
        return _adapter().validate_python(data)

    def _names_are_known(self) -> Settings:
        known = set(self.layer_names)
        for where, names in (("order", self.order or ()), *self._group_names()):
            unknown = [n for n in names if n not in known]
            if unknown:
                raise ValueError(f"{where}: unknown layer {unknown[0]!r}; known layers: {', '.join(self.layer_names)}")
        if self.order is not None and len(set(self.order)) != len(self.order):
            raise ValueError("order: a layer is listed twice")
        return self

    def _group_names(self) -> list[tuple[str, tuple[str, ...]]]:
        return [(f"coupling.groups[{i}]", g) for i, g in enumerate(self.coupling.groups or ())]

    @property
    def layer_names(self) -> tuple[str, ...]:
        """Declared layers (or the defaults), in declaration order."""
        if self.layers is None:
            return DEFAULT_ORDER
        names = tuple(self.layers)
        if self.extend_defaults:
            names += tuple(n for n in DEFAULT_ORDER if n not in names)
        return names

    @property
    def ship_order(self) -> tuple[str, ...]:
        """``order``, completed with any layer it leaves out (in the default order, then declared)."""
        given = self.order or ()
        rest = [n for n in DEFAULT_ORDER if n in self.layer_names and n not in given]
        rest += [n for n in self.layer_names if n not in given and n not in rest]
        return (*given, *rest)

    @property
    def coupling_groups(self) -> tuple[tuple[str, ...], ...]:
        return self.coupling.groups if self.coupling.groups is not None else (self.layer_names,)

    @property
    def uses_defaults(self) -> bool:
        return self.layers is None or self.extend_defaults


_ADAPTER: list[TypeAdapter[Settings]] = []


def _adapter() -> TypeAdapter[Settings]:
    """Pydantic's validator of ``Settings``, built once (and only when a file must be validated)."""
    if not _ADAPTER:
        from pydantic import TypeAdapter

        _ADAPTER.append(TypeAdapter(Annotated[Settings, _After(Settings._names_are_known)]))
    return _ADAPTER[0]


@dataclass(frozen=True)
class LoadedSettings:
    settings: Settings
    source: Path | None  # None: no settings file, built-in defaults
    commit: str | None = None  # read from this commit rather than the work tree

    @property
    def label(self) -> str:
        if self.source is None:
            return "built-in defaults"
        return f"{self.source} at {self.commit[:10]}" if self.commit else str(self.source)


@dataclass(frozen=True)
class _Found:
    """A settings file that exists: its git blob id, and its bytes when they are at hand."""

    blob: str
    data: bytes | None  # None: in a commit, read only on a cache miss


class _Files:
    """Where settings files are read: the work tree, or one commit (its trees, one ``cat-file``)."""

    def __init__(self, root: Path, commit: str | None = None) -> None:
        self.root, self.commit = root, commit

    def find(self, path: Path) -> _Found | None:
        """The file, or None when it does not exist there."""
        inside = self._relative(path)
        if self.commit is None or inside is None:  # a file outside the repo has no history
            if not path.is_file():
                return None
            data = path.read_bytes()
            return _Found(settings_cache.blob_id(data), data)
        rel = inside.as_posix()
        parent, _, name = rel.rpartition("/")
        from pytest_rollout.diff.git import tree_at

        mode, sha = (tree_at(self.root, self.commit, parent) or {}).get(name, (None, ""))
        if mode is None:
            return None
        if mode != "100644" and mode != "100755":
            what = "a symbolic link" if mode == "120000" else f"not a regular file (mode {mode})"
            raise SettingsError(
                f"{rel}: {what} at {self.commit[:10]}: the settings must be a regular file committed in the repository"
            )
        return _Found(sha, None)

    def read(self, found: _Found) -> bytes:
        if found.data is not None:
            return found.data
        from pytest_rollout.diff.git import read_blobs

        blob = read_blobs(self.root, [found.blob])[found.blob]
        if blob.data is None:
            raise SettingsError(f"settings blob {found.blob[:10]} cannot be read: the repository is damaged")
        return blob.data

    def _relative(self, path: Path) -> Path | None:
        """The path inside the repository, without following a symlink in the work tree: at a
        commit the blob is read, so a link in the checkout must not redirect the lookup."""
        absolute = Path(os.path.abspath(path))
        try:
            return absolute.parent.resolve().joinpath(absolute.name).relative_to(self.root.resolve())
        except ValueError:
            return None


def settings_folders(root: Path, path: Path | str | None) -> list[str]:
    """The folders a settings lookup reads at a commit (for ``prefetch_trees``)."""
    if path is None:
        return [""]
    inside = _Files(root)._relative(Path(path) if Path(path).is_absolute() else root / path)
    return [inside.parent.as_posix().removeprefix(".")] if inside is not None else []


def load_settings(repo_root: Path, path: Path | str | None = None) -> LoadedSettings:
    """Find, parse and validate the work tree's settings: explicit path, rollout.yaml, pyproject.toml, defaults."""
    loaded = _load(_Files(repo_root), path)
    assert loaded is not None  # only missing_ok returns None
    return loaded


def load_settings_at(repo_root: Path, commit: str, path: Path | str | None = None) -> LoadedSettings:
    """The settings as they are at ``commit``: the gate judges a release by its base's rules,
    so a pull request cannot loosen the gate that judges it."""
    loaded = settings_at(repo_root, commit, path)
    if loaded is None:
        raise SettingsError(f"{path}: settings file not found at {commit[:10]}: check --rollout-config / --config")
    return loaded


def settings_at(repo_root: Path, commit: str, path: Path | str | None = None) -> LoadedSettings | None:
    """As ``load_settings_at``, but None where the explicit ``path`` does not exist at ``commit`` (it is new)."""
    return _load(_Files(repo_root, commit), path, missing_ok=True)


def _load(files: _Files, path: Path | str | None, *, missing_ok: bool = False) -> LoadedSettings | None:
    root = files.root
    if path is not None:
        p = Path(path)
        if not p.is_absolute() and not p.exists():
            p = root / p
        found = files.find(p)
        if found is None:
            if missing_ok:
                return None
            where = f" at {files.commit[:10]}" if files.commit else ""
            raise SettingsError(f"{path}: settings file not found{where}: check --rollout-config / --config")
        return LoadedSettings(_settings(files, p, found, _kind(p, explicit=True)), p, files.commit)
    for name in SETTINGS_FILES:
        found = files.find(root / name)
        if found is not None:
            return LoadedSettings(_settings(files, root / name, found, "yaml"), root / name, files.commit)
    found = files.find(root / "pyproject.toml")
    if found is not None:
        settings = _settings(files, root / "pyproject.toml", found, "pyproject")
        if settings is not None:
            return LoadedSettings(settings, root / "pyproject.toml", files.commit)
    return LoadedSettings(Settings(), None, files.commit)


def _kind(path: Path, *, explicit: bool) -> str:
    if path.suffix != ".toml":
        return "yaml"
    return "pyproject-config" if path.name == "pyproject.toml" and explicit else "toml"


def _settings(files: _Files, path: Path, found: _Found, kind: str) -> Any:
    """The validated settings of one file, from the cache (``settings_cache``) or parsed and validated.

    ``kind`` "pyproject" (the implicit lookup) answers None where the file has no table.
    """
    cached = settings_cache.get(files.root, kind, found.blob)
    if cached is not None:
        try:
            return None if cached == settings_cache.NO_TABLE else settings_cache.rebuild(Settings, cached)
        except (TypeError, ValueError, KeyError, AttributeError):
            pass  # an entry from other rules, or damaged: validate again
    settings = _parse(path, files.read(found), kind)
    value = asdict(settings) if settings is not None else settings_cache.NO_TABLE
    settings_cache.put(files.root, kind, found.blob, value)
    return settings


def _parse(path: Path, data: bytes, kind: str) -> Settings | None:
    if kind == "pyproject":
        table = _pyproject_table(path, data)
        return _validate(table, path, None, f"[tool.{PYPROJECT_TABLE}].") if table is not None else None
    if kind != "yaml":
        table = _pyproject_table(path, data) if kind == "pyproject-config" else _read_toml(path, data)
        return _validate(table or {}, path, None, "")
    import yaml

    from pytest_rollout.diff.formats import ConfigLoader as loader  # duplicate keys and bad dates are errors

    text = _text(path, data)
    try:
        node = yaml.compose(text, Loader=loader)
        doc = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SettingsError(f"{path}{line}: not valid YAML: {problem}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise SettingsError(f"{path}:1: expected a mapping of settings (base, layers, coupling, ...)")
    return _validate(doc, path, node, "")


def _text(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SettingsError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _read_toml(path: Path, data: bytes) -> dict[str, Any]:
    from pytest_rollout.diff.formats.toml import toml_module

    tomllib = toml_module()
    try:
        table: dict[str, Any] = tomllib.loads(_text(path, data))
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    except ValueError as exc:  # an integer past Python's 4,300-digit limit
        raise SettingsError(f"{path}: not valid TOML: {str(exc).split(';')[0]}") from None
    return table


def _pyproject_table(path: Path, data: bytes) -> dict[str, Any] | None:
    table = _read_toml(path, data).get("tool", {}).get(PYPROJECT_TABLE)
    if table is not None and not isinstance(table, dict):
        raise SettingsError(f"{path}: [tool.{PYPROJECT_TABLE}] must be a table")
    return table


def _validate(data: dict[str, Any], path: Path, node: Any, prefix: str) -> Settings:
    from pydantic import ValidationError

    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if not loc and (m := re.match(r"^([a-z_]+)(?:\.([a-z_]+))?(?:\[(\d+)\])?: (.*)$", msg)):
            # A cross-field check names its field in the message: point at its line.
            loc = tuple(p if not p.isdigit() else int(p) for p in m.groups()[:3] if p)
            msg = m.group(4)
        line = _line_of(node, loc)
        where = f"{path}:{line}" if line else str(path)
        field = prefix + _format_loc(loc) if loc else prefix.rstrip(".") or "settings"
        if err["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            msg = f"unknown setting; allowed here: {', '.join(_allowed_at(loc))}"
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise SettingsError(f"{where}: {field}: {msg}{more}") from None


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _allowed_at(loc: tuple[Any, ...]) -> list[str]:
    model: Any = Settings
    for part in loc[:-1]:
        ann = get_type_hints(model).get(part) if isinstance(part, str) else None
        if ann is None:
            model = LayerRule if model is Settings and loc[0] == "layers" else model
            continue
        model = ann if isinstance(ann, type) and is_dataclass(ann) else model
    return sorted(f.name for f in fields(model))


def _line_of(node: Any, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML node at ``loc`` (or its nearest existing parent)."""
    if node is None:
        return None
    line = int(node.start_mark.line) + 1
    for part in loc:
        child = None
        if isinstance(node.value, list) and node.value and isinstance(node.value[0], tuple):
            for key, value in node.value:
                if key.value == part:
                    child = key if part == loc[-1] else value
                    break
        elif isinstance(node.value, list) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node, line = child, int(child.start_mark.line) + 1
    return line
