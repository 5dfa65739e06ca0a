"""The coupling policy: a release that moves several coupled layers is blocked,
and the author gets the plan to split it (pure: data in, ``Decision`` out).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from pytest_rollout.diff.redact import scrub_text
from pytest_rollout.frozen import dataclass
from pytest_rollout.gate.layers import layers_changed
from pytest_rollout.models import Change, CommitCheck, Decision, Override, PlanStep
from pytest_rollout.settings import Settings

_TRAILER = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)$")


def parse_trailers(message: str) -> list[tuple[str, str]]:
    """Trailers as git reads them: the last paragraph, if it is made of ``Key: value`` lines.

    Continuation lines (starting with white space) extend the previous value. A
    message that is one paragraph has no trailers (its first line is the subject).
    """
    paragraphs = [p for p in re.split(r"\n[ \t]*\n", message.strip("\n")) if p.strip()]
    if len(paragraphs) < 2:
        return []
    trailers: list[tuple[str, str]] = []
    for line in paragraphs[-1].splitlines():
        if line[:1] in (" ", "\t") and trailers:
            key, value = trailers[-1]
            trailers[-1] = (key, f"{value} {line.strip()}".strip())
            continue
        m = _TRAILER.match(line)
        if not m:
            return []
        trailers.append((m.group(1), m.group(2).strip()))
    return trailers


@dataclass(frozen=True)
class OverrideRequest:
    """A request to let a bundle through, before policy checks."""

    reason: str
    source: str  # "trailer" | "option"
    commit: str | None = None
    author: str | None = None


def find_overrides(commits: Sequence[tuple[str, str, str]], trailer: str) -> list[OverrideRequest]:
    """Every ``<trailer>: reason`` in the window's commits (sha, author, message)."""
    found = []
    for sha, author, message in commits:
        for key, value in parse_trailers(message):
            if key.lower() == trailer.lower():
                found.append(OverrideRequest(value, "trailer", sha, author))
    return found


def coupling_reasons(layers: Sequence[str], settings: Settings) -> list[str]:
    """Why these moved layers may not ship together (empty: they may)."""
    reasons = []
    order = settings.ship_order
    limit = settings.coupling.max_layers_per_release
    for group in settings.coupling_groups:
        moved = sorted((name for name in layers if name in group), key=order.index)
        if len(moved) > limit:
            reasons.append(f"{len(moved)} coupled layers moved in one release: {', '.join(moved)}; at most {limit} may")
    return reasons


def decide(
    changes: Sequence[Change],
    unclassified: Sequence[Change],
    settings: Settings,
    overrides: Sequence[OverrideRequest] = (),
    commits: list[CommitCheck] | None = None,
    unreadable: Sequence[str] = (),
    settings_changed: str | None = None,
) -> Decision:
    layers = layers_changed(changes)
    coupled = coupling_reasons(layers, settings)
    if settings_changed and layers:
        coupled.append(
            f"{settings_changed} changes together with layer(s) {', '.join(layers)}: the gate judged this release "
            "by the base's settings; ship the settings change on its own first"
        )
    reasons = list(coupled)
    reasons += [
        f"{path} changed but cannot be read key by key (unparseable, binary, over max_file_size, or a link): "
        "the gate cannot tell which layers moved; raise max_file_size, or map the file with a `files:` rule"
        for path in unreadable
    ]
    if settings.strict and unclassified:
        reasons.append(_strict_reason(unclassified))
    override = None
    if coupled:
        override, why = accept_override(overrides, settings)
        reasons += why
        if override is not None:
            reasons = [r for r in reasons if r not in coupled]
    if commits:
        reasons += [f"commit {c.commit[:10]} alone: {r}" for c in commits if c.status == "blocked" for r in c.reasons]
    status: Literal["pass", "blocked"] = "blocked" if reasons else "pass"
    plan = make_plan(changes, settings) if coupled else []
    return Decision(status=status, reasons=reasons, override=override, plan=plan, commits=commits)


def _strict_reason(unclassified: Sequence[Change]) -> str:
    shown = ", ".join(f"{c.path}:{c.key}" if c.key else c.path for c in unclassified[:3])
    more = f" and {len(unclassified) - 3} more" if len(unclassified) > 3 else ""
    return (
        f"{len(unclassified)} unclassified change(s) in watched files under strict: true "
        f"({shown}{more}): map them to a layer in rollout.yaml, or revert them"
    )


def accept_override(requests: Sequence[OverrideRequest], settings: Settings) -> tuple[Override | None, list[str]]:
    """The first valid override, or the reasons the requests were refused."""
    refused = []
    for req in requests:
        where = f"commit {req.commit[:10]}" if req.commit else "--rollout-allow-bundle"
        if not settings.override.allowed:
            refused.append(f"override in {where} refused: override.allowed is false in the settings")
        elif not req.reason.strip():
            refused.append(
                f"override in {where} refused: empty reason (write `{settings.override.trailer}: <why this bundle is deliberate>`)"
            )
        else:
            src: Literal["trailer", "option"] = "trailer" if req.source == "trailer" else "option"
            reason, author = scrub_text(req.reason.strip()), scrub_text(req.author) if req.author else req.author
            return Override(reason=reason, source=src, commit=req.commit, author=author), []
    return None, refused


def make_plan(changes: Sequence[Change], settings: Settings) -> list[PlanStep]:
    """One step per moved layer, in ship order, each with its changes."""
    by_layer: dict[str, list[Change]] = {}
    for c in changes:
        if c.layer:
            by_layer.setdefault(c.layer, []).append(c)
    names = [n for n in settings.ship_order if n in by_layer]
    files = {n: {c.path for c in by_layer[n]} for n in names}
    steps = []
    for i, name in enumerate(names, 1):
        shared = sorted(p for p in files[name] if any(p in files[o] for o in names if o != name))
        steps.append(
            PlanStep(
                step=i,
                layer=name,
                changes=by_layer[name],
                shared_files=shared,
                instruction=_instruction(i, len(names), name, shared),
            )
        )
    return steps


def _instruction(i: int, total: int, layer: str, shared: list[str]) -> str:
    text = f"ship the {layer} change alone, measure its evals"
    text += f", then step {i + 1}" if i < total else ", done"
    if shared:
        text += f"; {', '.join(shared)} also carries other steps' changes: split that file's edit across commits"
    return text
