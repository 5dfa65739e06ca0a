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
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, get_type_hints

from pytest_rollout.errors import SettingsError
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


class _Files:
    """Where settings files are read: the work tree, or one commit (``git show``)."""

    def __init__(self, root: Path, commit: str | None = None) -> None:
        self.root, self.commit = root, commit

    def read(self, path: Path) -> bytes | None:
        """The file's bytes, or None when it does not exist there."""
        inside = self._relative(path)
        if self.commit is None or inside is None:  # a file outside the repo has no history
            return path.read_bytes() if path.is_file() else None
        from pytest_rollout.diff.git import read_blobs

        rel = inside.as_posix()
        mode = _tree_mode(self.root, self.commit, rel)
        if mode is None:
            return None
        if mode != "100644" and mode != "100755":
            what = "a symbolic link" if mode == "120000" else f"not a regular file (mode {mode})"
            raise SettingsError(
                f"{rel}: {what} at {self.commit[:10]}: the settings must be a regular file committed in the repository"
            )
        spec = f"{self.commit}:{rel}"
        blob = read_blobs(self.root, [spec])[spec]  # one git call; a missing file has no sha
        return blob.data if blob.sha is not None and blob.type == "blob" else None

    def _relative(self, path: Path) -> Path | None:
        """The path inside the repository, without following a symlink in the work tree: at a
        commit the blob is read, so a link in the checkout must not redirect the lookup."""
        absolute = Path(os.path.abspath(path))
        try:
            return absolute.parent.resolve().joinpath(absolute.name).relative_to(self.root.resolve())
        except ValueError:
            return None


def _tree_mode(root: Path, commit: str, rel: str) -> str | None:
    """The git mode of ``rel`` at ``commit`` (``100644``, ``120000``...), None when absent."""
    from pytest_rollout.diff.git import run_git

    out = run_git(root, "ls-tree", "-z", "--full-tree", commit, "--", rel)
    for record in out.split(b"\0"):
        meta, _, name = record.partition(b"\t")
        if meta and name.decode("utf-8", "surrogateescape") == rel:
            return meta.decode("ascii").split(" ")[0]
    return None


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
        data = files.read(p)
        if data is None:
            if missing_ok:
                return None
            where = f" at {files.commit[:10]}" if files.commit else ""
            raise SettingsError(f"{path}: settings file not found{where}: check --rollout-config / --config")
        return _parse(p, data, files.commit)
    for name in SETTINGS_FILES:
        data = files.read(root / name)
        if data is not None:
            return _parse(root / name, data, files.commit)
    data = files.read(root / "pyproject.toml")
    if data is not None:
        table = _pyproject_table(root / "pyproject.toml", data)
        if table is not None:
            settings = _validate(table, root / "pyproject.toml", None, f"[tool.{PYPROJECT_TABLE}].")
            return LoadedSettings(settings, root / "pyproject.toml", files.commit)
    return LoadedSettings(Settings(), None, files.commit)


def _parse(path: Path, data: bytes, commit: str | None) -> LoadedSettings:
    if path.suffix == ".toml":
        table = _pyproject_table(path, data) if path.name == "pyproject.toml" else _read_toml(path, data)
        return LoadedSettings(_validate(table or {}, path, None, ""), path, commit)
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
    return LoadedSettings(_validate(doc, path, node, ""), path, commit)


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
