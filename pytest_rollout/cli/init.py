"""``pytest-rollout init``: write the layer map the built-in defaults see at HEAD.

Why a file and not just the defaults: the defaults guess key by key on every
run; a written map is reviewed once, says why each rule is there, and lists the
keys nobody has placed yet. The map it writes keeps ``extend_defaults: true``,
so a config file added later is still read, and suggests ``strict: true``, so
a change to a key left unplaced blocks instead of passing.

Rules: a file whose every key falls to its folder (``prompts/``, ``deploy/``,
...) is covered by that folder's glob; otherwise each key becomes a key rule
with list elements as ``[*]`` (``tools[*].description``); a file whose every key
names one layer is a file rule. A mapping of named entries (at least three
entries, all mappings, sharing a key: ``catalog.<model>.url``,
``resourceProfiles.<profile>.limits``) is read like a list: the entry's name
becomes ``*`` (``catalog.*.url``) when every key that rule covers in the file has
one layer, so the map has one rule per field, not one per entry, and an entry
added later is judged like its siblings. Never overwrites an existing file without ``--force``.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pytest_rollout.diff.formats import KeyPath, Parsed, format_key
from pytest_rollout.diff.redact import scrub_name
from pytest_rollout.errors import RolloutError
from pytest_rollout.gate import defaults


@dataclass
class _Layer:
    files: dict[str, str] = field(default_factory=dict)  # glob -> why
    keys: dict[str, str] = field(default_factory=dict)  # "FILE:KEYPATH" -> why


@dataclass
class Scan:
    """What init found: rules per layer, and the keys of AI config files it could not place."""

    commit: str
    layers: dict[str, _Layer] = field(default_factory=lambda: defaultdict(_Layer))
    unclassified: dict[str, list[str]] = field(default_factory=dict)  # file -> keys
    sources: int = 0  # application source files: the defaults' ``app`` layer, left to them


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("init", help="Write rollout.yaml: the layer map the built-in defaults see at HEAD")
    p.add_argument("--repo", default=".", type=Path, help="Folder inside the git repository (default: .)")
    p.add_argument("--output", metavar="PATH", help="Where to write (default: rollout.yaml at the repo root)")
    p.add_argument("--force", action="store_true", help="Overwrite an existing file")


def run_init(args: argparse.Namespace) -> int:
    from pytest_rollout.diff.refs import repo_root

    root = repo_root(args.repo)
    out = Path(args.output) if args.output else root / "rollout.yaml"
    if out.exists() and not args.force:
        raise RolloutError(f"{out} exists; pass --force to overwrite it")
    scan = scan_repo(root)
    try:
        out.write_text(render(scan), encoding="utf-8")
    except OSError as exc:
        raise RolloutError(f"{out}: cannot write it ({exc.strerror})") from None
    n_rules = sum(len(layer.files) + len(layer.keys) for layer in scan.layers.values())
    n_open = sum(len(keys) for keys in scan.unclassified.values())
    print(f"wrote {out}: {n_rules} rule(s) in {len(scan.layers)} layer(s), {n_open} unclassified key(s) to place")
    return 0


def scan_repo(root: Path, commit: str = "HEAD") -> Scan:
    from pytest_rollout.diff.changes import read_tree_configs
    from pytest_rollout.diff.git import run_git
    from pytest_rollout.settings import SETTINGS_FILES

    sha = run_git(root, "rev-parse", "--verify", f"{commit}^{{commit}}").decode().strip()
    scan = Scan(sha)
    for path, content in sorted(read_tree_configs(root, sha, defaults.default_watches).items()):
        if ":" not in path and path not in SETTINGS_FILES:  # the settings are not AI config (--force rewrites them)
            _scan_file(scan, path, content)
    return scan


def _scan_file(scan: Scan, path: str, content: Parsed | str) -> None:
    folder = defaults.default_file_layer(path)
    if folder == "app":
        scan.sources += 1  # no glob can say "but not tests": the defaults' app rule (extend_defaults) does
        return
    keys = [key for key in content.values if defaults.reads_key(path, key)] if isinstance(content, Parsed) else []
    ids = _catalogue_ids(keys)
    decided = {key: defaults.file_key_decision(path, key, ids.get(key, ())) for key in keys}
    named = {key: found[0] if found else None for key, found in decided.items()}
    if folder is not None and all(layer in (None, folder) for layer in named.values()):
        glob = _folder_glob(path, folder)
        where = f"files under {glob[:-3]}" if glob.endswith("/**") and glob != "**" else f"files named {glob}"
        scan.layers[folder].files.setdefault(glob, f"{where}: {folder}")
        return
    placed = [key for key, layer in named.items() if layer is not None]
    if not placed:
        return  # read by the defaults, carries no AI config
    layers = {named[key] for key in placed}
    if len(placed) == len(named) and len(layers) == 1:
        (layer,) = layers
        scan.layers[str(layer)].files.setdefault(path, f"every key of it names {layer}")
        return
    patterns = _patterns(named)
    whys: dict[str, list[str]] = defaultdict(list)
    for key in placed:
        layer, cut = decided[key] or ("", 0)
        # The whole key (list elements and named entries as [*] and *), not a prefix: a key
        # added later under the same parent is judged by the defaults (extend_defaults).
        if layer == "model" and (cut in ids.get(key, ()) or defaults.MODEL_FAMILY.fullmatch(key[cut])):
            why = "below a model id: an entry of a model catalogue is model"
        elif key[cut].startswith("["):
            why = f"{key[cut]} names {layer}"
        else:
            why = f"{key[cut]!r} names {layer}"
        rule = f"{path}:{patterns[key]}"
        why = scrub_name(why)
        whys[rule].append(why)
        scan.layers[layer].keys.setdefault(rule, why)
    for name in scan.layers:
        rules = scan.layers[name].keys
        for rule in rules:
            if len(set(whys.get(rule, ()))) > 1:
                rules[rule] = f"each of its {len(whys[rule])} entries names {name} ({whys[rule][0]}, ...)"
    left = list(dict.fromkeys(patterns[key] for key, layer in named.items() if layer is None))
    if left:
        scan.unclassified[path] = left


def _patterns(named: dict[KeyPath, str | None]) -> dict[KeyPath, str]:
    """Each key's rule text: list elements as ``[*]``, named entries as ``*`` where that keeps one layer."""
    listed = {key: _listed(key) for key in named}
    entries = _entry_collections(list(listed.values()))
    starred = {
        key: tuple("*" if i and n[:i] in entries else seg for i, seg in enumerate(n)) for key, n in listed.items()
    }
    layers: dict[tuple[str, ...], set[str | None]] = defaultdict(set)
    for key, pattern in starred.items():
        layers[pattern].add(named[key])
    return {key: _format(starred[key] if len(layers[starred[key]]) == 1 else listed[key]) for key in named}


def _listed(key: KeyPath) -> tuple[str, ...]:
    """List elements as ``[*]``; a segment shaped like a credential (``{sk-proj-...: admin}``) as ``*``,
    so the written map never copies a secret (the rule still matches the key)."""
    from pytest_rollout.diff.redact import looks_like_credential

    return tuple(
        "[*]" if seg.startswith("[") and not _is_env(key, i) else "*" if looks_like_credential(seg) else seg
        for i, seg in enumerate(key)
    )


def _catalogue_ids(keys: list[KeyPath]) -> dict[KeyPath, tuple[int, ...]]:
    """Where a key passes through an entry of a model catalogue: a collection of named entries
    whose names are mostly model ids (``catalog.{llama-3-8b, qwen2.5-7b, e5-mistral-7b}``), so
    each entry's name is a model id, even one the defaults cannot tell (``e5-mistral-7b-cpu``)."""
    listed = [_listed(key) for key in keys]
    entries = _entry_collections(listed)
    catalogues = {
        prefix
        for prefix, names in entries.items()
        if 2 * sum(bool(defaults.MODEL_FAMILY.fullmatch(n)) for n in names) >= len(names)
    }
    out = {}
    for key, n in zip(keys, listed, strict=True):
        found = tuple(i for i in range(1, len(n)) if n[:i] in catalogues)
        if found:
            out[key] = found
    return out


def _entry_collections(keys: list[tuple[str, ...]]) -> dict[tuple[str, ...], set[str]]:
    """Prefixes whose children are named entries (>= 3 children, all mappings, sharing a key), with their names."""
    subkeys: dict[tuple[str, ...], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    leaves: set[tuple[str, ...]] = set()
    for key in keys:
        for i in range(len(key)):
            if key[i].startswith("["):
                continue
            if i == len(key) - 1:
                leaves.add(key[:i])
            else:
                subkeys[key[:i]][key[i]].add(key[i + 1])
    return {
        prefix: set(children)
        for prefix, children in subkeys.items()
        if len(children) >= 3 and prefix not in leaves and set.intersection(*children.values())
    }


def _format(pattern: tuple[str, ...]) -> str:
    """``format_key``, with ``[*]`` and ``*`` kept bare (they are rule syntax, not key names)."""
    out = ""
    for seg in pattern:
        if seg == "[*]":
            out += seg
        else:
            text = "*" if seg == "*" else format_key((seg,))
            out += f".{text}" if out else text
    return out


def _is_env(key: KeyPath, i: int) -> bool:
    return i > 0 and key[i - 1].lower() == "env"


def _folder_glob(path: str, layer: str) -> str:
    from pytest_rollout.gate.layers import compile_glob

    for glob in defaults.DEFAULT_FILES[layer]:
        if compile_glob(glob).match(path):
            if glob.startswith("**/") and glob.endswith("/**"):
                folder = glob[3:-3]
                parts = path.split("/")
                return "/".join(parts[: parts.index(folder) + 1]) + "/**" if folder in parts else glob
            return glob
    return path


def render(scan: Scan) -> str:
    lines = [
        f"# Written by `pytest-rollout init` from what the built-in defaults see at {scan.commit[:12]}.",
        "# Each rule says why it is here: move what is wrong, then place the unclassified keys below.",
        "extend_defaults: true  # config files this map does not name are still read by the built-in defaults",
        "strict: true  # suggested: a change to a key no rule places blocks instead of passing",
        "layers:",
    ]
    if scan.sources:
        lines.insert(
            -1, f"# app: {scan.sources} source file(s) outside tests, docs and examples, by the defaults (coupled)"
        )
    order = [n for n in defaults.DEFAULT_KEYS if n in scan.layers] + [
        n for n in scan.layers if n not in defaults.DEFAULT_KEYS
    ]
    for name in order:
        layer = scan.layers[name]
        lines.append(f"  {name}:")
        for kind, rules in (("files", layer.files), ("keys", layer.keys)):
            if rules:
                lines.append(f"    {kind}:")
                lines.extend(f"      - {json.dumps(rule)}  # {why}" for rule, why in rules.items())
    if not scan.layers:
        lines[-1] = "# layers: nothing at HEAD looks like AI config; add rules (see docs/reference.md)"
    if scan.unclassified:
        lines.append("# Unclassified keys of the files above (strict: true blocks on their changes); place them:")
        for path, keys in scan.unclassified.items():
            lines.append(f"#   {path}: {', '.join(keys[:20])}{' ...' if len(keys) > 20 else ''}")
    return "\n".join(lines) + "\n"
