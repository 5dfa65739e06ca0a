"""Frozen value objects that cross module boundaries, and the JSON report schema.

Every public output (``pytest-rollout diff --json``, ``--rollout-report``,
``pytest-rollout schema``) is a dump of these models, so the schema cannot drift
from what is written. Values are already redacted when a ``Change`` is built
(see ``redact.py``): nothing downstream can print a secret.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["added", "modified", "deleted", "renamed"]
Status = Literal["pass", "blocked"]
Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE", "ERROR", "NO_BASELINE"]

#: The layers of an AI system, in the order a plan ships them by default.
DEFAULT_ORDER: tuple[str, ...] = ("infra", "model", "params", "context", "prompt", "tools")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Change(_Frozen):
    """One semantic change: a key of a structured file, or a whole file (``key`` null)."""

    path: str = Field(description="Path at head (at base for deletions), POSIX separators")
    key: str | None = Field(default=None, description="Dotted key path; null for whole-file changes")
    layer: str | None = Field(default=None, description="Layer it belongs to; null when unclassified")
    kind: Kind
    old: Any = Field(default=None, description="Value at base (redacted when secret-like)")
    new: Any = Field(default=None, description="Value at head (redacted when secret-like)")
    old_path: str | None = Field(default=None, description="Path at base, for renames")
    line: int | None = Field(default=None, description="1-based line of the key in the head file")
    diff: str | None = Field(
        default=None, description="A whole-file text change: its unified diff (redacted); null otherwise"
    )


class Override(_Frozen):
    """A deliberate bundle, approved by a commit trailer or a command-line reason."""

    reason: str
    source: Literal["trailer", "option"]
    commit: str | None = None
    author: str | None = None


class PlanStep(_Frozen):
    step: int
    layer: str
    changes: list[Change]
    shared_files: list[str] = Field(
        default_factory=list,
        description="Files this step shares with other steps: their edit must be split across commits",
    )
    instruction: str = ""
    commit: str | None = Field(default=None, description="Deploy plans: the first-parent commit to deploy at this step")
    commits: list[str] = Field(
        default_factory=list, description="Merged commits of this step that are not deployed yet (pending)"
    )


class CommitCheck(_Frozen):
    """``--rollout-per-commit``: one commit of the window judged alone."""

    commit: str
    subject: str
    layers_changed: list[str]
    status: Status
    reasons: list[str] = Field(default_factory=list)


class Pending(_Frozen):
    """A layer moved on the base branch since the deployed release: merged, not deployed."""

    layer: str
    commits: list[str] = Field(description="First-parent commits of deployed..base that moved it, oldest first")


class Deployed(_Frozen):
    """The release that is deployed (``release.deployed``, ``--rollout-deployed``)."""

    ref: str = Field(description="The ref it was read from (a deploy tag, a branch)")
    commit: str
    at: str | None = Field(default=None, description="Deploy time (the tag's date, UTC ISO 8601); null for a branch")


class Decision(_Frozen):
    status: Status
    reasons: list[str] = Field(default_factory=list)
    override: Override | None = None
    plan: list[PlanStep] = Field(default_factory=list)
    commits: list[CommitCheck] | None = Field(
        default=None, description="Per-commit checks, present with --rollout-per-commit"
    )
    pending: list[Pending] | None = Field(
        default=None, description="Layers moved in deployed..base, present when the deployed release is known"
    )


class DiffResult(_Frozen):
    """What moved between two commits: the answer every other step rests on."""

    base: str
    head: str
    merge_base: str | None = None
    layers_changed: list[str]
    changes: list[Change]
    unclassified: list[Change] = Field(default_factory=list)
    unreadable: list[str] = Field(
        default_factory=list, description="Watched config files that changed but could not be compared key by key"
    )
    settings_changed: str | None = Field(default=None, description="The settings file, when this release changes it")
    judged_by: str | None = Field(
        default=None, description="The settings that judged this release, and from which commit"
    )
    warnings: list[str] = Field(default_factory=list)
    deployed: Deployed | None = Field(default=None, description="The deployed release, when it is known")


class TrialValue(_Frozen):
    """One trial of the consumed prefix: its case and epoch, and its value on [0, 1] (null: an error trial)."""

    index: int
    case: str | None = None
    epoch: int = 0
    value: float | None = None


class EvalResult(_Frozen):
    nodeid: str
    layers: list[str] = Field(default_factory=list)
    verdict: Verdict
    criterion: str
    threshold: float | None = None
    margin: float
    confidence: float
    alpha: float | None = Field(default=None, description="False-FAIL rate after correction")
    beta: float | None = Field(default=None, description="False-PASS rate")
    estimate: float | None = None
    interval: tuple[float, float] | None = Field(
        default=None, description="Anytime-valid confidence sequence at `confidence`"
    )
    n: int = Field(description="Completed trials, errors included")
    budget: int
    passes: int = 0
    failures: int = 0
    errors: int = 0
    cases: int | None = None
    epochs: int | None = None
    stopped_early: bool = False
    seed: int
    p_value: float | None = Field(default=None, description="Always-valid p-value for FAIL")
    holm_p: float | None = None
    bh_q: float | None = None
    baseline_commit: str | None = None
    baseline_run: int | None = Field(default=None, description="The baseline's run id (--rollout-baseline run:N)")
    baseline_cases: int | None = None
    change: float | None = Field(default=None, description="Estimate minus baseline (max_regression)")
    change_interval: tuple[float, float] | None = None
    criteria: dict[str, str] | None = Field(
        default=None,
        description="Each criterion's own verdict when several must hold (e.g. pass_rate and max_regression)",
    )
    line: str = Field(default="", description="The human report line")
    failing_trials: list[str] = Field(default_factory=list)
    max_regression: float | None = Field(default=None, description="The eval's max_regression, when it has one")
    trials: list[TrialValue] = Field(
        default_factory=list, description="Per-trial values of the trials that fed the verdict, in index order"
    )


class Deselected(_Frozen):
    nodeid: str
    reason: str


class Shard(_Frozen):
    """This report is one shard of a run split with ``--rollout-shard I/N``."""

    index: int
    count: int
    family: int = Field(description="Evals selected across all shards: the family-wise correction's size")


class Report(_Frozen):
    """``--rollout-report`` and ``diff --json``: gate fields are absent without the gate."""

    base: str | None = None
    head: str | None = None
    deployed: Deployed | None = None
    layers_changed: list[str] | None = None
    changes: list[Change] | None = None
    unclassified: list[Change] | None = None
    decision: Decision | None = None
    evals: list[EvalResult] | None = None
    deselected: list[Deselected] | None = None
    shard: Shard | None = None
    shards: int | None = Field(default=None, description="In a merged report: how many shard reports it joins")

    def to_json_dict(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        return {k: v for k, v in data.items() if v is not None}
