"""``evalspec``: every marker rule, and the message a user sees when it is broken."""

from __future__ import annotations

import math
from collections import namedtuple
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from pytest_rollout.errors import MarkerError
from pytest_rollout.evals.markers import (
    ALLOWED_EVAL_KWARGS,
    Case,
    EvalSpec,
    budget_units,
    parse_eval_marker,
    parse_layer_markers,
)

WHERE = "evals/test_x.py::test_a"
LAYERS = ("infra", "model", "params", "context", "prompt", "tools")
ALLOWED = (
    "backoff, cases, concurrency, confidence, epochs, errors, margin, max_cost, max_error_rate, max_regression, "
    "min_score, pass_rate, power, retries, retry_on, timeout, trials"
)


def parse(*args: Any, **kwargs: Any) -> EvalSpec:
    return parse_eval_marker(args, kwargs, where=WHERE)


def refused(*args: Any, **kwargs: Any) -> str:
    """The message of the MarkerError, checked to start with the nodeid and the marker."""
    with pytest.raises(MarkerError) as info:
        parse_eval_marker(args, kwargs, where=WHERE)
    message = str(info.value)
    assert message.startswith(f"{WHERE}: eval(): ")
    return message


# ---------------------------------------------------------------- the happy path


def test_minimal_marker_gets_documented_defaults() -> None:
    spec = parse(trials=300, pass_rate=0.8)
    assert spec == EvalSpec(trials=300, criterion="pass_rate", threshold=0.8, max_regression=None)
    assert (spec.confidence, spec.margin, spec.power, spec.resolved_power) == (0.95, 0.05, None, 0.95)
    assert (spec.cases, spec.epochs, spec.concurrency, spec.timeout, spec.max_error_rate) == (None, 1, 1, None, 0.1)
    assert (spec.units_budget, spec.trials_budget) == (300, 300)


def test_every_argument_is_taken() -> None:
    spec = parse(
        trials=40,
        min_score=0.7,
        max_regression=0.05,
        confidence=0.9,
        margin=0.1,
        power=0.8,
        cases=[("a", 1), ("b", 2)],
        epochs=3,
        concurrency=8,
        timeout=30,
        max_error_rate=0.0,
    )
    assert (spec.criterion, spec.threshold, spec.max_regression) == ("min_score", 0.7, 0.05)
    assert (spec.confidence, spec.margin, spec.power, spec.resolved_power) == (0.9, 0.1, 0.8, 0.8)
    assert spec.cases == (Case("a", 1), Case("b", 2))
    assert (spec.epochs, spec.concurrency, spec.timeout, spec.max_error_rate) == (3, 8, 30.0, 0.0)
    assert isinstance(spec.timeout, float)


def test_allowed_kwargs_are_the_documented_set() -> None:
    assert ", ".join(sorted(ALLOWED_EVAL_KWARGS)) == ALLOWED


def test_none_means_not_given() -> None:
    spec = parse(trials=10, pass_rate=0.8, min_score=None, power=None, timeout=None, margin=None, concurrency=None)
    assert (spec.criterion, spec.power, spec.timeout, spec.margin, spec.concurrency) == (
        "pass_rate",
        None,
        None,
        0.05,
        1,
    )


def test_numpy_numbers_are_numbers() -> None:
    spec = parse(trials=np.int64(50), pass_rate=np.float64(0.8), concurrency=np.int32(2))
    assert (spec.trials, spec.threshold, spec.concurrency) == (50, 0.8, 2)
    assert type(spec.trials) is int


# ---------------------------------------------------------------- names and positions


def test_unknown_argument_names_the_allowed_ones_and_the_likely_one() -> None:
    message = refused(trials=10, pass_rat=0.8)
    assert message == f"{WHERE}: eval(): unknown argument 'pass_rat'; allowed: {ALLOWED} (did you mean 'pass_rate'?)"


def test_several_unknown_arguments_are_all_named() -> None:
    message = refused(trials=10, pass_rate=0.8, trails=3, zzz=1)
    assert (
        message == f"{WHERE}: eval(): unknown arguments 'trails', 'zzz'; allowed: {ALLOWED}"
        " (did you mean 'trials' for 'trails'?)"
    )


def test_unknown_argument_without_a_close_match_has_no_hint() -> None:
    assert refused(trials=10, pass_rate=0.8, zzz=1).endswith(f"allowed: {ALLOWED}")


def test_positional_arguments_are_refused() -> None:
    message = refused(300, 0.8)
    assert "positional arguments are not allowed (got 300, 0.8)" in message
    assert "eval(trials=300, pass_rate=0.8)" in message


# ---------------------------------------------------------------- trials


@pytest.mark.parametrize("value", [0, -1, True, False, 2.5, "10", 10.0])
def test_trials_must_be_a_positive_int(value: object) -> None:
    assert f"trials= must be an int >= 1, got {value!r}" in refused(trials=value, pass_rate=0.8)


def test_trials_is_required() -> None:
    assert "trials= is required" in refused(pass_rate=0.8)
    assert "trials= is required" in refused(trials=None, pass_rate=0.8)


# ---------------------------------------------------------------- criteria


def test_pass_rate_and_min_score_are_exclusive() -> None:
    assert "pass_rate= and min_score= are exclusive" in refused(trials=10, pass_rate=0.8, min_score=0.8)


def test_a_criterion_is_required() -> None:
    message = refused(trials=10)
    assert "no criterion; give one of pass_rate=, min_score= (absolute) and/or max_regression=" in message


def test_max_regression_alone_is_a_criterion() -> None:
    spec = parse(trials=10, max_regression=0.05)
    assert (spec.criterion, spec.threshold, spec.max_regression) == (None, None, 0.05)


def test_max_regression_combines_with_an_absolute_criterion() -> None:
    spec = parse(trials=10, pass_rate=0.8, max_regression=0.05)
    assert (spec.criterion, spec.threshold, spec.max_regression) == ("pass_rate", 0.8, 0.05)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"pass_rate": 0}, "pass_rate=0.0 is out of range; allowed: 0 < pass_rate <= 1"),
        ({"pass_rate": 1.5}, "pass_rate=1.5 is out of range; allowed: 0 < pass_rate <= 1"),
        ({"pass_rate": math.nan}, "pass_rate=nan is out of range; allowed: 0 < pass_rate <= 1"),
        ({"min_score": -0.2}, "min_score=-0.2 is out of range; allowed: 0 < min_score <= 1"),
        ({"pass_rate": True}, "pass_rate= must be a number, got True (bool)"),
        ({"pass_rate": "0.8"}, "pass_rate= must be a number, got '0.8' (str)"),
        ({"max_regression": 0}, "max_regression=0.0 is out of range; allowed: 0 < max_regression < 1"),
        ({"max_regression": 1}, "max_regression=1.0 is out of range; allowed: 0 < max_regression < 1"),
    ],
)
def test_criterion_ranges(kwargs: dict[str, Any], fragment: str) -> None:
    assert fragment in refused(trials=10, **kwargs)


def test_threshold_one_is_allowed() -> None:
    assert parse(trials=10, pass_rate=1).threshold == 1.0


def test_threshold_minus_margin_must_stay_above_zero() -> None:
    message = refused(trials=10, pass_rate=0.05)
    assert (
        "pass_rate=0.05 with margin=0.05 leaves no room below the threshold: pass_rate - margin must be > 0" in message
    )
    assert "min_score - margin must be > 0" in refused(trials=10, min_score=0.1, margin=0.2)
    assert parse(trials=10, min_score=0.1, margin=0.09).threshold == 0.1


# ---------------------------------------------------------------- error rates and margin


@pytest.mark.parametrize("name", ["confidence", "power"])
@pytest.mark.parametrize("value", [0.5, 1.0, 0.3, 1.2, math.nan])
def test_confidence_and_power_are_open_between_half_and_one(name: str, value: float) -> None:
    assert f"{name}={value!r} is out of range; allowed: 0.5 < {name} < 1" in refused(
        trials=10, pass_rate=0.8, **{name: value}
    )


@pytest.mark.parametrize("value", [0, -0.1, 0.51])
def test_margin_range(value: float) -> None:
    assert "allowed: 0 < margin <= 0.5" in refused(trials=10, pass_rate=0.9, margin=value)


def test_margin_may_be_one_half() -> None:
    assert parse(trials=10, pass_rate=0.9, margin=0.5).margin == 0.5


# ---------------------------------------------------------------- running knobs


@pytest.mark.parametrize("value", [0, True, 1.5])
def test_concurrency_must_be_a_positive_int(value: object) -> None:
    assert f"concurrency= must be an int >= 1, got {value!r}" in refused(trials=10, pass_rate=0.8, concurrency=value)


@pytest.mark.parametrize("value", [0, -1, math.inf, math.nan])
def test_timeout_must_be_finite_and_positive(value: float) -> None:
    message = refused(trials=10, pass_rate=0.8, timeout=value)
    assert "is out of range; allowed: a finite number of seconds > 0" in message


def test_timeout_must_be_a_number() -> None:
    assert "timeout= must be a number, got '30s' (str)" in refused(trials=10, pass_rate=0.8, timeout="30s")


@pytest.mark.parametrize("value", [1.0, -0.1, 2])
def test_max_error_rate_range(value: float) -> None:
    assert "allowed: 0 <= max_error_rate < 1" in refused(trials=10, pass_rate=0.8, max_error_rate=value)


# ---------------------------------------------------------------- cases and epochs


@dataclass(frozen=True)
class Question:
    id: int
    text: str


Row = namedtuple("Row", ["id", "prompt"])


def test_case_shapes() -> None:
    mapping = {"id": "m1", "q": "?"}
    obj = Question(7, "why")
    row = Row("r1", "hi")
    spec = parse(trials=10, pass_rate=0.8, cases=[mapping, obj, row, ("t1", {"x": 1})])
    assert spec.cases == (Case("m1", mapping), Case("7", obj), Case("r1", row), Case("t1", {"x": 1}))


def test_cases_may_be_a_tuple() -> None:
    assert parse(trials=10, pass_rate=0.8, cases=(("a", 1),)).cases == (Case("a", 1),)


def test_cases_callable_is_called_once() -> None:
    calls: list[int] = []

    def load() -> list[tuple[str, int]]:
        calls.append(1)
        return [("a", 1), ("b", 2)]

    spec = parse(trials=10, pass_rate=0.8, cases=load, epochs=2)
    assert spec.cases == (Case("a", 1), Case("b", 2))
    assert calls == [1]


def test_cases_callable_must_take_no_arguments() -> None:
    def load(path: str) -> list[tuple[str, int]]:
        return []

    assert "cases= callable must take no arguments; its signature is (path: 'str')" in refused(
        trials=10, pass_rate=0.8, cases=load
    )


def test_cases_callable_failure_names_the_loader_and_keeps_the_cause() -> None:
    def load_cases() -> list[Any]:
        raise FileNotFoundError("cases.jsonl")

    with pytest.raises(MarkerError) as info:
        parse(trials=10, pass_rate=0.8, cases=load_cases)
    assert "cases= callable" in str(info.value)
    assert "load_cases raised FileNotFoundError: cases.jsonl" in str(info.value)
    assert isinstance(info.value.__cause__, FileNotFoundError)


@pytest.mark.parametrize(
    ("cases", "fragment"),
    [
        ([], "got an empty list"),
        ((), "got an empty tuple"),
        ({"a": 1}, "got dict"),
        ((c for c in [("a", 1)]), "got generator"),
        (lambda: [], "the cases= callable returned an empty list"),
        (lambda: iter([("a", 1)]), "the cases= callable returned list_iterator"),
    ],
)
def test_cases_must_be_a_non_empty_list_or_tuple(cases: object, fragment: str) -> None:
    message = refused(trials=10, pass_rate=0.8, cases=cases)
    assert "cases= must be a non-empty list or tuple, or a zero-argument callable returning one" in message
    assert message.endswith(fragment)


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        (
            3,
            "cases[1] is int; expected a mapping with an 'id' key, an object with an 'id' attribute,"
            " or an (id, value) tuple",
        ),
        (("a", 1, 2), "cases[1] is tuple; expected"),
        ({"name": "x"}, "cases[1] is a mapping without an 'id' key"),
        ({"id": None}, "cases[1] has an empty id (None); case ids must be non-empty"),
        (("", 1), "cases[1] has an empty id (''); case ids must be non-empty"),
    ],
)
def test_bad_case_entries(entry: object, fragment: str) -> None:
    assert fragment in refused(trials=10, pass_rate=0.8, cases=[("ok", 0), entry])


def test_case_ids_are_unique_after_str() -> None:
    message = refused(trials=10, pass_rate=0.8, cases=[{"id": 1}, ("x", 0), ("1", 2)])
    assert "duplicate case id '1' (cases[0] and cases[2]); case ids must be unique" in message


def test_epochs_need_cases() -> None:
    assert "epochs= repeats each case, so it needs cases=" in refused(trials=10, pass_rate=0.8, epochs=3)


@pytest.mark.parametrize("value", [0, True, 2.0])
def test_epochs_must_be_a_positive_int(value: object) -> None:
    assert f"epochs= must be an int >= 1, got {value!r}" in refused(
        trials=10, pass_rate=0.8, cases=[("a", 1)], epochs=value
    )


def test_trials_must_cover_one_case() -> None:
    message = refused(trials=2, pass_rate=0.8, cases=[("a", 1)], epochs=3)
    assert "trials=2 is less than epochs=3, so not one case can finish" in message
    assert parse(trials=3, pass_rate=0.8, cases=[("a", 1)], epochs=3).epochs == 3


def test_budget_in_units_counts_whole_cases_only() -> None:
    cases = [(str(i), i) for i in range(10)]
    with pytest.raises(MarkerError, match="trials=20 runs only 6 of the 10 cases x 3 epochs"):
        parse(trials=20, pass_rate=0.8, cases=cases, epochs=3)  # a dropped case is an error, never silence
    spec = parse(trials=1000, pass_rate=0.8, cases=cases, epochs=3)
    assert (spec.units_budget, spec.trials_budget) == (10, 30)  # no more cases than exist
    assert budget_units(7, 1, None) == 7


# ---------------------------------------------------------------- layer markers


def test_layer_markers_union_sorted_and_deduplicated() -> None:
    names = parse_layer_markers([("prompt", "model"), ("model",), ("infra",)], LAYERS, where=WHERE)
    assert names == ("infra", "model", "prompt")


def test_layer_typo_names_the_known_layers_and_the_likely_one() -> None:
    with pytest.raises(MarkerError) as info:
        parse_layer_markers([("promt",)], LAYERS, where=WHERE)
    assert str(info.value) == (
        f"{WHERE}: layer('promt'): unknown layer 'promt'; known layers: context, infra, model, params, prompt, tools"
        " (did you mean 'prompt'?)"
    )


def test_layer_unknown_without_a_close_match_has_no_hint() -> None:
    with pytest.raises(MarkerError) as info:
        parse_layer_markers([("model", "zzz")], LAYERS, where=WHERE)
    assert str(info.value).endswith(
        "layer('model', 'zzz'): unknown layer 'zzz'; known layers: context, infra, model, params, prompt, tools"
    )


def test_layer_without_names_is_an_error() -> None:
    with pytest.raises(MarkerError) as info:
        parse_layer_markers([("model",), ()], LAYERS, where=WHERE)
    assert (
        str(info.value)
        == f"{WHERE}: layer(): no layer names; give at least one of: context, infra, model, params, prompt, tools"
    )


@pytest.mark.parametrize("bad", ["", 3, None])
def test_layer_names_are_non_empty_strings(bad: object) -> None:
    with pytest.raises(MarkerError) as info:
        parse_layer_markers([("model", bad)], LAYERS, where=WHERE)
    assert str(info.value).startswith(
        f"{WHERE}: layer('model', {bad!r}): layer names are non-empty strings, got {bad!r}"
    )


def test_layer_names_come_from_the_settings_not_a_fixed_list() -> None:
    assert parse_layer_markers([("retrieval",)], ["retrieval"], where=WHERE) == ("retrieval",)
    with pytest.raises(MarkerError, match="known layers: \\(none\\)"):
        parse_layer_markers([("model",)], [], where=WHERE)
