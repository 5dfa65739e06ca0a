"""Selection and the eval item's rules as pure tables: no pytest session, no git."""

from __future__ import annotations

import pytest

from pytest_rollout.evals.markers import parse_eval_marker
from pytest_rollout.evals.runner import EvalOptions, missing_baseline_action, verdict_passes
from pytest_rollout.evals.selection import BLOCKED_REASON, DRIFT_REASON, drift_only, select, unknown_forced


@pytest.mark.parametrize(
    ("layers", "is_eval", "moved", "blocked", "dropped_because"),
    [
        (("prompt",), True, ("prompt",), False, None),
        (("prompt",), True, ("model",), False, "layer prompt did not move"),
        (("prompt", "tools"), True, ("model",), False, "layers prompt, tools did not move"),
        (None, True, ("model",), False, None),  # an eval without a layer marker always runs
        (None, False, ("model",), True, None),  # an ordinary test runs even when the gate blocks
        (("prompt",), True, ("prompt",), True, BLOCKED_REASON),
        (None, True, (), True, BLOCKED_REASON),
        (("prompt",), True, None, False, None),  # no gate, no forced layers: every layer
    ],
)
def test_select(
    layers: tuple[str, ...] | None,
    is_eval: bool,
    moved: tuple[str, ...] | None,
    blocked: bool,
    dropped_because: str | None,
) -> None:
    keep, dropped = select([("t", layers, is_eval)], moved=moved, blocked=blocked)
    assert dropped == ({} if dropped_because is None else {"t": dropped_because})
    assert keep == ([] if dropped_because else ["t"])


def test_drift_keeps_only_regression_evals() -> None:
    assert drift_only([("a", True), ("b", False)]) == {"b": DRIFT_REASON}


def test_unknown_forced_layer_names_the_known_ones() -> None:
    assert unknown_forced(["prompt"], ["prompt", "model"]) is None
    assert unknown_forced(["promt"], ["prompt", "model"]) == (
        "--rollout-layers: unknown layer 'promt'; known layers: prompt, model"
    )


REGRESSION_ONLY = parse_eval_marker((), {"trials": 100, "max_regression": 0.05}, where="t")
WITH_PASS_RATE = parse_eval_marker((), {"trials": 100, "max_regression": 0.05, "pass_rate": 0.8}, where="t")


@pytest.mark.parametrize(
    ("spec", "missing", "recording", "policy", "action"),
    [
        (REGRESSION_ONLY, None, False, "fail", None),  # a baseline exists: run
        (REGRESSION_ONLY, "no baseline", False, "fail", "no_baseline"),
        (REGRESSION_ONLY, "no baseline", False, "skip", "skip"),
        (REGRESSION_ONLY, "no baseline", True, "fail", None),  # recording the first baseline
        (WITH_PASS_RATE, "no baseline", False, "skip", None),  # the absolute criterion still decides
        (WITH_PASS_RATE, "no baseline", False, "fail", "no_baseline"),
    ],
)
def test_missing_baseline_action(
    spec: object, missing: str | None, recording: bool, policy: str, action: str | None
) -> None:
    opts = EvalOptions(seed=1, missing_baseline=missing, recording=recording)
    assert missing_baseline_action(spec, opts, policy) == action  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("verdict", "inconclusive", "recording", "passes"),
    [
        ("PASS", "fail", False, True),
        ("FAIL", "pass", True, False),
        ("ERROR", "pass", False, False),
        ("INCONCLUSIVE", "fail", False, False),
        ("INCONCLUSIVE", "pass", False, True),
        ("NO_BASELINE", "fail", False, False),
        ("NO_BASELINE", "fail", True, True),
    ],
)
def test_verdict_passes(verdict: str, inconclusive: str, recording: bool, passes: bool) -> None:
    assert verdict_passes(verdict, inconclusive, recording) is passes
