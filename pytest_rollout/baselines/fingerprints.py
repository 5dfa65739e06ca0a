"""Per-layer fingerprints: a hash of each layer's config at a commit.

Why: a stored run is a valid baseline for a new release's eval only while the
layers that eval measures are unchanged since the run. Comparing commits would
throw a baseline away on every code-only commit; comparing fingerprints keeps it
until one of the eval's layers really moves (a prompt edit, a model swap).

A layer's fingerprint covers exactly what the layer map assigns to it, seen the
way the diff sees it (``changes.read_tree_configs``): the flattened key/value
pairs of structured files (so comments, key order and formatting are not
changes, and ``1`` -> ``1.0`` is), and the blob of every other watched file.
Unclassified keys are ignored, as the diff ignores them for ``layers_changed``.
A layer with no config hashes the empty input, the same at every commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_rollout.diff.formats import Parsed
    from pytest_rollout.gate.layers import LayerMap
    from pytest_rollout.settings import Settings

#: Bumped whenever the entries below change shape: old fingerprints then never match
#: new ones, so a scheme change can only drop baselines, never pair the wrong ones.
SCHEME = b"pytest-rollout layer fingerprint v1\n"


def layer_fingerprints(repo: Path, commit: str, settings: Settings) -> dict[str, str]:
    """``{layer: sha256 hex}`` for every layer in ``settings.layer_names`` at ``commit``."""
    from pytest_rollout.diff.changes import read_tree_configs
    from pytest_rollout.gate.layers import LayerMap

    lmap = LayerMap.from_settings(settings)
    configs = read_tree_configs(repo, commit, lmap.watches, max_bytes=settings.max_file_size)
    entries: dict[str, list[str]] = {name: [] for name in settings.layer_names}
    for path, content in configs.items():
        for layer, entry in _entries(lmap, path, content):
            if layer in entries:
                entries[layer].append(entry)
    return {layer: digest(lines) for layer, lines in entries.items()}


def dirty_config(repo: Path, settings: Settings) -> list[str]:
    """Watched files whose work tree differs from HEAD (modified, staged, deleted or untracked).

    Why: a recorded run is labelled with HEAD's fingerprints, but its evals ran
    against the work tree. An uncommitted prompt edit would store outcomes of one
    prompt under the fingerprint of another, and a later release would compare
    against the wrong baseline. ``--rollout-record`` should refuse while this is
    non-empty. Structured files count even when only unclassified keys changed:
    telling them apart would need a parse of both sides, and "commit first" is
    the right answer for a baseline anyway.
    """
    from pytest_rollout.diff.git import run_git
    from pytest_rollout.gate.layers import LayerMap

    lmap = LayerMap.from_settings(settings)
    out = run_git(repo, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames")
    paths = [rec[3:].decode("utf-8", "surrogateescape") for rec in out.split(b"\0") if len(rec) > 3]
    return sorted(p for p in paths if lmap.watches(p))


def digest(entries: list[str]) -> str:
    """sha256 of the sorted entries, one per line: independent of file and key order."""
    h = hashlib.sha256(SCHEME)
    for entry in sorted(entries):
        h.update(entry.encode("utf-8", "surrogatepass"))
        h.update(b"\n")
    return h.hexdigest()


def _entries(lmap: LayerMap, path: str, content: Parsed | str) -> Iterator[tuple[str, str]]:
    """(layer, entry) for one file: a blob, or its presence and each classified key."""
    whole = lmap.layer_of(path, None)
    if isinstance(content, str):
        if whole is not None:
            yield whole, _line("file", path, content)
        return
    if whole is not None:
        # An empty structured file a `files:` rule watches still exists: adding or
        # removing it moves the layer, as it does in the diff.
        yield whole, _line("present", path, None)
    for key, value in content.values.items():
        layer = lmap.layer_of(path, key)
        if layer is not None:
            yield layer, _line("key", path, [list(key), value])


def _line(kind: str, path: str, payload: Any) -> str:
    # JSON keeps the types the diff compares on (1, 1.0, "1" and true all differ)
    # and escapes newlines, so one entry is always one line.
    return json.dumps([kind, path, payload], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
