"""What one pytest session knows about the release: computed once on the controller,
sent to xdist workers as plain JSON (execnet cannot carry pydantic objects); the stash keys."""

from __future__ import annotations

from collections.abc import Callable  # noqa: F401 (BODY_KEY names it)
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_rollout.evals.markers import EvalSpec  # noqa: F401 (SPEC_KEY names it)
    from pytest_rollout.models import Decision, DiffResult, EvalResult  # noqa: F401 (RESULT_KEY names it)


@dataclass
class SessionState:
    """What the controller computed once, and what workers receive as plain JSON."""

    gate: bool = False
    seed: int = 0
    diff: DiffResult | None = None
    decision: Decision | None = None
    forced_layers: tuple[str, ...] | None = None
    known_layers: tuple[str, ...] | None = None
    deselected: dict[str, str] = field(default_factory=dict)
    evals: list[EvalResult] = field(default_factory=list)
    eval_count: int = 0
    annotations: list[str] = field(default_factory=list)
    record_run: tuple[str, int] | None = None  # (store file, run id) with --rollout-record
    output_errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # warnings for the header and the summary
    baselines: Any = None  # BaselineContext, computed lazily in each process

    def to_wire(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "seed": self.seed,
            "diff": self.diff.model_dump(mode="json") if self.diff else None,
            "decision": self.decision.model_dump(mode="json") if self.decision else None,
            "forced_layers": list(self.forced_layers) if self.forced_layers is not None else None,
            "record_run": list(self.record_run) if self.record_run else None,
            "known_layers": list(self.known_layers) if self.known_layers is not None else None,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> SessionState:
        from pytest_rollout.models import Decision, DiffResult

        forced = data.get("forced_layers")
        record = data.get("record_run")
        return cls(
            record_run=(record[0], record[1]) if record else None,
            gate=data["gate"],
            seed=data["seed"],
            diff=DiffResult.model_validate(data["diff"]) if data.get("diff") else None,
            decision=Decision.model_validate(data["decision"]) if data.get("decision") else None,
            forced_layers=tuple(forced) if forced is not None else None,
            known_layers=tuple(data["known_layers"]) if data.get("known_layers") is not None else None,
        )

    @property
    def moved(self) -> tuple[str, ...]:
        """Layers whose evals run: those that moved, plus any forced by --rollout-layers."""
        moved = list(self.diff.layers_changed) if self.diff else []
        moved += [name for name in self.forced_layers or () if name not in moved]
        return tuple(moved)

    @property
    def not_selected_because(self) -> str:
        if self.gate and self.forced_layers:
            return "did not move and is not in --rollout-layers"
        return "did not move" if self.gate else "is not in --rollout-layers"


#: Where each plugin finds the session's state, the eval spec and layers of an item, and its result.
STATE_KEY = pytest.StashKey[SessionState]()
SPEC_KEY = pytest.StashKey["EvalSpec"]()
LAYERS_KEY = pytest.StashKey["tuple[str, ...]"]()
RESULT_KEY = pytest.StashKey["EvalResult"]()
BODY_KEY = pytest.StashKey["Callable[..., Any]"]()  # an async eval's test function while a stand-in runs
GATE_NODE = "rollout::gate"
