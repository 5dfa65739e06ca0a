"""Frozen value objects that cross module boundaries, and the JSON report schema.

Every public output (``pytest-rollout diff --json``, ``--rollout-report``,
``pytest-rollout schema``) is a dump of these models, so the schema cannot drift
from what is written. Values are already redacted when a ``Change`` is built
(see ``redact.py``): nothing downstream can print a secret.

They are stdlib dataclasses, not pydantic models: the pre-push check builds and
dumps them, and importing pydantic plus building eleven models cost it ~100 ms
(issue 19). Pydantic still owns what it is good at, on demand: ``model_validate``
(reading a report or an xdist payload back) and ``model_json_schema`` go through a
``pydantic.TypeAdapter`` over these very classes (field descriptions come from
``field(metadata=...)``, ``extra="forbid"`` from ``__pydantic_config__``), so the
schema is still generated from what is written out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import field, fields, replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from pytest_rollout.frozen import dataclass

if TYPE_CHECKING:
    from pydantic import TypeAdapter

Kind = Literal["added", "modified", "deleted", "renamed"]
Status = Literal["pass", "blocked"]
Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE", "ERROR", "NO_BASELINE", "COST_LIMIT"]

#: The layers of an AI system, in the order a plan ships them by default.
DEFAULT_ORDER: tuple[str, ...] = ("infra", "model", "params", "context", "prompt", "tools", "app")

_M = TypeVar("_M", bound="_Frozen")


class _Frozen:
    """The pydantic-like surface the rest of the package uses (``model_copy``, ``model_dump``...).

    Every model is a ``@dataclass(frozen=True, kw_only=True)``: built by keyword, as a frozen
    pydantic model was.
    """

    __pydantic_config__: ClassVar[dict[str, Any]] = {"extra": "forbid"}  # read by pydantic, when asked

    def model_copy(self: _M, *, update: dict[str, Any] | None = None) -> _M:
        return replace(self, **update) if update else self  # type: ignore[type-var]  # a dataclass

    def model_dump(self, mode: Literal["json"] = "json") -> dict[str, Any]:
        """As pydantic's ``model_dump(mode="json")``: nested models as dicts, tuples as lists, inf/nan as None."""
        return {name: _dump(getattr(self, name)) for name in _names(type(self))}

    @classmethod
    def model_validate(cls: type[_M], data: Any) -> _M:
        """Validate a JSON-able document (a report read back, an xdist payload) into this model."""
        return _adapter(cls).validate_python(data)

    @classmethod
    def model_json_schema(cls) -> dict[str, Any]:
        return _adapter(cls).json_schema()


_NAMES: dict[type, tuple[str, ...]] = {}
_ADAPTERS: dict[type, Any] = {}


def _names(cls: type[_Frozen]) -> tuple[str, ...]:
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]  # a dataclass
    return names


def _dump(value: Any) -> Any:
    if isinstance(value, _Frozen):
        return value.model_dump()
    if isinstance(value, (list, tuple)):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None  # pydantic's JSON mode: JSON has no inf/nan
    return value


def _adapter(cls: type[_M]) -> TypeAdapter[_M]:
    adapter: TypeAdapter[_M] | None = _ADAPTERS.get(cls)
    if adapter is None:
        from pydantic import TypeAdapter

        adapter = _ADAPTERS[cls] = TypeAdapter(cls)
    return adapter


@dataclass(frozen=True, kw_only=True)
class Change(_Frozen):
    """One semantic change: a key of a structured file, or a whole file (``key`` null)."""

    path: str = field(metadata={"description": "Path at head (at base for deletions), POSIX separators"})
    key: str | None = field(default=None, metadata={"description": "Dotted key path; null for whole-file changes"})
    layer: str | None = field(default=None, metadata={"description": "Layer it belongs to; null when unclassified"})
    kind: Kind
    old: Any = field(default=None, metadata={"description": "Value at base (redacted when secret-like)"})
    new: Any = field(default=None, metadata={"description": "Value at head (redacted when secret-like)"})
    old_path: str | None = field(default=None, metadata={"description": "Path at base, for renames"})
    line: int | None = field(default=None, metadata={"description": "1-based line of the key in the head file"})
    diff: str | None = field(
        default=None,
        metadata={"description": "A whole-file text change: its unified diff (redacted); null otherwise"},
    )


@dataclass(frozen=True, kw_only=True)
class Override(_Frozen):
    """A deliberate bundle, approved by a commit trailer or a command-line reason."""

    reason: str
    source: Literal["trailer", "option"]
    commit: str | None = None
    author: str | None = None


@dataclass(frozen=True, kw_only=True)
class PlanStep(_Frozen):
    step: int
    layer: str
    changes: list[Change]
    shared_files: list[str] = field(
        default_factory=list,
        metadata={"description": "Files this step shares with other steps: their edit must be split across commits"},
    )
    instruction: str = ""
    commit: str | None = field(
        default=None, metadata={"description": "Deploy plans: the first-parent commit to deploy at this step"}
    )
    commits: list[str] = field(
        default_factory=list,
        metadata={"description": "Merged commits of this step that are not deployed yet (pending)"},
    )


@dataclass(frozen=True, kw_only=True)
class CommitCheck(_Frozen):
    """``--rollout-per-commit``: one commit of the window judged alone."""

    commit: str
    subject: str
    layers_changed: list[str]
    status: Status
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Pending(_Frozen):
    """A layer moved on the base branch since the deployed release: merged, not deployed."""

    layer: str
    commits: list[str] = field(
        metadata={"description": "First-parent commits of deployed..base that moved it, oldest first"}
    )


@dataclass(frozen=True, kw_only=True)
class Deployed(_Frozen):
    """The release that is deployed (``release.deployed``, ``--rollout-deployed``)."""

    ref: str = field(metadata={"description": "The ref it was read from (a deploy tag, a branch)"})
    commit: str
    at: str | None = field(
        default=None, metadata={"description": "Deploy time (the tag's date, UTC ISO 8601); null for a branch"}
    )


@dataclass(frozen=True, kw_only=True)
class Decision(_Frozen):
    status: Status
    reasons: list[str] = field(default_factory=list)
    override: Override | None = None
    plan: list[PlanStep] = field(default_factory=list)
    commits: list[CommitCheck] | None = field(
        default=None, metadata={"description": "Per-commit checks, present with --rollout-per-commit"}
    )
    pending: list[Pending] | None = field(
        default=None,
        metadata={"description": "Layers moved in deployed..base, present when the deployed release is known"},
    )


@dataclass(frozen=True, kw_only=True)
class DiffResult(_Frozen):
    """What moved between two commits: the answer every other step rests on."""

    base: str
    head: str
    merge_base: str | None = None
    layers_changed: list[str]
    changes: list[Change]
    unclassified: list[Change] = field(default_factory=list)
    unreadable: list[str] = field(
        default_factory=list,
        metadata={"description": "Watched config files that changed but could not be compared key by key"},
    )
    settings_changed: str | None = field(
        default=None, metadata={"description": "The settings file, when this release changes it"}
    )
    judged_by: str | None = field(
        default=None, metadata={"description": "The settings that judged this release, and from which commit"}
    )
    warnings: list[str] = field(default_factory=list)
    deployed: Deployed | None = field(default=None, metadata={"description": "The deployed release, when it is known"})


@dataclass(frozen=True, kw_only=True)
class TrialValue(_Frozen):
    """One trial of the consumed prefix: its case and epoch, and its value on [0, 1] (null: an error trial)."""

    index: int
    case: str | None = None
    epoch: int = 0
    value: float | None = None
    note: str | None = field(
        default=None, metadata={"description": "What the body kept with trial.note(text), redacted and capped"}
    )
    retries: int = field(default=0, metadata={"description": "Further attempts after transient errors (retries=)"})


@dataclass(frozen=True, kw_only=True)
class Usage(_Frozen):
    """Tokens and cost the trials reported with ``trial.usage(...)``: an eval's, or the run's."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    trials: int = field(
        default=0, metadata={"description": "Trials that reported usage (every trial run, used or not)"}
    )

    @classmethod
    def added(cls, parts: Iterable[Usage | None]) -> Usage | None:
        """The sum of ``parts`` (None where there is nothing to add)."""
        found = [u for u in parts if u is not None]
        if not found:
            return None
        return cls(
            input_tokens=sum(u.input_tokens for u in found),
            output_tokens=sum(u.output_tokens for u in found),
            cost=math.fsum(u.cost for u in found),
            trials=sum(u.trials for u in found),
        )


@dataclass(frozen=True, kw_only=True)
class CaseResult(_Frozen):
    """One case of an eval with ``cases=``: its trials in the consumed prefix, against the baseline's."""

    case: str
    n: int = field(metadata={"description": "Trials of the case in the consumed prefix, errors included"})
    errors: int = 0
    mean: float | None = field(
        default=None, metadata={"description": "Mean value of its non-error trials; null if all errored"}
    )
    baseline: float | None = field(
        default=None, metadata={"description": "The baseline's mean for this case (max_regression)"}
    )
    change: float | None = field(default=None, metadata={"description": "mean - baseline"})
    worse: bool = field(default=False, metadata={"description": "The case got worse than the baseline (change < 0)"})


@dataclass(frozen=True, kw_only=True)
class EvalResult(_Frozen):
    nodeid: str
    layers: list[str] = field(default_factory=list)
    verdict: Verdict
    criterion: str
    threshold: float | None = None
    margin: float
    confidence: float
    alpha: float | None = field(default=None, metadata={"description": "False-FAIL rate after correction"})
    beta: float | None = field(default=None, metadata={"description": "False-PASS rate"})
    estimate: float | None = None
    interval: tuple[float, float] | None = field(
        default=None, metadata={"description": "Anytime-valid confidence sequence at `confidence`"}
    )
    n: int = field(metadata={"description": "Completed trials, errors included"})
    budget: int
    passes: int = 0
    failures: int = 0
    errors: int = 0
    cases: int | None = None
    epochs: int | None = None
    stopped_early: bool = False
    seed: int
    p_value: float | None = field(default=None, metadata={"description": "Always-valid p-value for FAIL"})
    holm_p: float | None = None
    bh_q: float | None = None
    baseline_commit: str | None = None
    baseline_run: int | None = field(
        default=None, metadata={"description": "The baseline's run id (--rollout-baseline run:N)"}
    )
    baseline_cases: int | None = None
    change: float | None = field(default=None, metadata={"description": "Estimate minus baseline (max_regression)"})
    change_interval: tuple[float, float] | None = None
    criteria: dict[str, str] | None = field(
        default=None,
        metadata={
            "description": "Each criterion's own verdict when several must hold (e.g. pass_rate and max_regression)"
        },
    )
    line: str = field(default="", metadata={"description": "The human report line"})
    failing_trials: list[str] = field(default_factory=list)
    max_regression: float | None = field(
        default=None, metadata={"description": "The eval's max_regression, when it has one"}
    )
    trials: list[TrialValue] = field(
        default_factory=list,
        metadata={"description": "Per-trial values of the trials that fed the verdict, in index order"},
    )
    per_case: list[CaseResult] | None = field(
        default=None, metadata={"description": "With cases=: per case, those that got worse than the baseline first"}
    )
    usage: Usage | None = field(
        default=None, metadata={"description": "Tokens and cost of every trial run; null if none reported"}
    )
    retries: int = field(default=0, metadata={"description": "Retries of transient errors, over every trial run"})
    max_cost: float | None = field(default=None, metadata={"description": "The eval's max_cost, when it has one"})


@dataclass(frozen=True, kw_only=True)
class Deselected(_Frozen):
    nodeid: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class Shard(_Frozen):
    """This report is one shard of a run split with ``--rollout-shard I/N``."""

    index: int
    count: int
    family: int = field(metadata={"description": "Evals selected across all shards: the family-wise correction's size"})


@dataclass(frozen=True, kw_only=True)
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
    shards: int | None = field(
        default=None, metadata={"description": "In a merged report: how many shard reports it joins"}
    )
    usage: Usage | None = field(
        default=None, metadata={"description": "The evals' usage added up; null if none reported"}
    )

    def to_json_dict(self) -> dict[str, Any]:
        data = self.model_dump()
        return {k: v for k, v in data.items() if v is not None}
