"""Which tests run: evals of the layers that moved; everything else as usual (pure).

Rules (docs/reference.md, "Markers"): a test with a ``layer`` marker runs only when one
of its layers moved; evals without a ``layer`` marker and ordinary tests always
run; when the gate blocks, no eval runs at all (split first, spend no budget).
"""

from __future__ import annotations

from collections.abc import Sequence

BLOCKED_REASON = "the gate blocked this release: split it first (see rollout::gate)"


def select(
    items: Sequence[tuple[str, tuple[str, ...] | None, bool]],
    moved: Sequence[str] | None,
    blocked: bool,
    because: str = "did not move",
) -> tuple[list[str], dict[str, str]]:
    """``items`` are (nodeid, layers or None, is_eval). Returns (kept nodeids, {dropped: reason}).

    ``moved`` None selects every layer; ``because`` words the reason ("did not move").
    """
    keep: list[str] = []
    dropped: dict[str, str] = {}
    for nodeid, layers, is_eval in items:
        reason = _reason(layers, is_eval, moved, blocked, because)
        if reason is None:
            keep.append(nodeid)
        else:
            dropped[nodeid] = reason
    return keep, dropped


def _reason(
    layers: tuple[str, ...] | None, is_eval: bool, moved: Sequence[str] | None, blocked: bool, because: str
) -> str | None:
    scoped = is_eval or layers is not None
    if blocked and scoped:
        return BLOCKED_REASON
    if moved is None or not layers:
        return None
    if set(layers) & set(moved):
        return None
    names = ", ".join(layers)
    if len(layers) == 1:
        return f"layer {names} {because}"
    return f"layers {names} {because.replace('is not', 'are not')}"


DRIFT_REASON = "--rollout-drift runs only max_regression evals"


def drift_only(items: Sequence[tuple[str, bool]]) -> dict[str, str]:
    """``items`` are (nodeid, is a max_regression eval) of the evals; returns {dropped: reason}."""
    return {nodeid: DRIFT_REASON for nodeid, regression in items if not regression}


def unknown_forced(forced: Sequence[str], known: Sequence[str]) -> str | None:
    """The error for a ``--rollout-layers`` name no settings define, or None."""
    unknown = [name for name in forced if name not in known]
    if not unknown:
        return None
    return f"--rollout-layers: unknown layer {unknown[0]!r}; known layers: {', '.join(known)}"
