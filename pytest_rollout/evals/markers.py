"""Validate ``@pytest.mark.eval(...)`` and ``@pytest.mark.layer(...)`` arguments.

Pure: the plugin passes a marker's args and kwargs in and gets a frozen spec back, or a
``MarkerError`` that starts with the test's nodeid and says what is allowed. Checking
everything at collection (as pytest-benchmark does for its marker) means a typo such as
``pass_rat=0.8`` stops the run before a single paid LLM call, instead of being silently
ignored or failing after an hour of trials.

Budget units. ``trials`` always counts single runs of the test body. With ``cases=`` the
statistical unit is a case (all its epochs), so the budget in units is
``min(trials // epochs, len(cases))``: a remainder of ``trials % epochs`` could only start a
case it cannot finish, and cases beyond the list do not exist. ``budget_units`` is the one
place that rule lives; ``trials.run_trials`` uses it too.
"""

from __future__ import annotations

import asyncio
import difflib
import inspect
import math
import numbers
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pytest_rollout.errors import MarkerError

Criterion = Literal["pass_rate", "min_score"]

ALLOWED_EVAL_KWARGS: frozenset[str] = frozenset(
    {
        "backoff",
        "cases",
        "concurrency",
        "confidence",
        "epochs",
        "errors",
        "margin",
        "max_cost",
        "max_error_rate",
        "max_regression",
        "min_score",
        "pass_rate",
        "power",
        "retries",
        "retry_on",
        "timeout",
        "trials",
    }
)

_CRITERIA: tuple[Criterion, ...] = ("pass_rate", "min_score")

#: Exceptions that are infrastructure failures (error trials, no outcome) unless ``errors=`` says
#: otherwise: timeouts and connection errors (refused, reset, aborted, broken pipe, DNS). Every
#: other exception of the body is a failed trial.
DEFAULT_ERRORS: tuple[type[BaseException], ...] = tuple(
    dict.fromkeys((TimeoutError, asyncio.TimeoutError, ConnectionError, socket.gaierror))
)


@dataclass(frozen=True)
class Case:
    """One eval case: ``id`` pairs it with the baseline, ``value`` is what the test sees."""

    id: str
    value: Any


@dataclass(frozen=True)
class EvalSpec:
    """A validated ``eval`` marker.

    ``trials`` is the budget in single runs of the test body (case x epoch runs when
    ``cases`` is set); see ``budget_units`` for how that becomes a budget of cases.
    ``power`` stays ``None`` when not given, so a report can tell "defaulted" from "set";
    use ``resolved_power`` for the number.
    """

    trials: int
    criterion: Criterion | None
    threshold: float | None
    max_regression: float | None
    confidence: float = 0.95
    margin: float = 0.05
    power: float | None = None
    cases: tuple[Case, ...] | None = None
    epochs: int = 1
    concurrency: int = 1
    timeout: float | None = None
    max_error_rate: float = 0.1
    errors: tuple[type[BaseException], ...] = DEFAULT_ERRORS
    rate_limit_errors: bool = True  # errors= not given: rate-limit errors (by name, HTTP 429) are error trials too
    retries: int = 0
    retry_on: tuple[type[BaseException], ...] | None = None  # None: retries.is_transient
    backoff: float = 1.0
    max_cost: float | None = None

    @property
    def resolved_power(self) -> float:
        """``power`` defaults to ``confidence`` (docs/statistics.md, hypotheses)."""
        return self.confidence if self.power is None else self.power

    @property
    def units_budget(self) -> int:
        """How many statistical units (trials, or whole cases) the budget can complete."""
        return budget_units(self.trials, self.epochs, None if self.cases is None else len(self.cases))

    @property
    def trials_budget(self) -> int:
        """Trials actually runnable: whole cases only, so never a half-run case."""
        return self.units_budget * self.epochs


def budget_units(trials: int, epochs: int, n_cases: int | None) -> int:
    """Units a budget of ``trials`` runs can complete (see the module docstring)."""
    if n_cases is None:
        return trials
    return min(trials // epochs, n_cases)


# ---------------------------------------------------------------- eval marker


def parse_eval_marker(args: tuple[Any, ...], kwargs: Mapping[str, Any], *, where: str) -> EvalSpec:
    """Turn ``eval(...)`` arguments into an ``EvalSpec`` or raise ``MarkerError``."""
    _refuse_positional(args, where)
    _refuse_unknown(kwargs, where)
    trials = _trials(kwargs, where)
    criterion, threshold, max_regression = _criteria(kwargs, where)
    margin = _or(_ranged(kwargs, "margin", where, (0.0, 0.5), "0 < margin <= 0.5", lo_open=True), 0.05)
    if criterion is not None and threshold is not None:
        _check_room(criterion, threshold, margin, where)
    cases, epochs = _cases_and_epochs(kwargs, trials, where)
    return EvalSpec(
        trials=trials,
        criterion=criterion,
        threshold=threshold,
        max_regression=max_regression,
        confidence=_or(_probability(kwargs, "confidence", where), 0.95),
        margin=margin,
        power=_probability(kwargs, "power", where),
        cases=cases,
        epochs=epochs,
        concurrency=_int_arg(kwargs, "concurrency", where, default=1),
        timeout=_timeout(kwargs, where),
        max_error_rate=_or(
            _ranged(kwargs, "max_error_rate", where, (0.0, 1.0), "0 <= max_error_rate < 1", hi_open=True), 0.1
        ),
        errors=_errors(kwargs, where),
        rate_limit_errors=kwargs.get("errors") is None,
        **_spending(kwargs, where),
    )


def _spending(kwargs: Mapping[str, Any], where: str) -> dict[str, Any]:
    from pytest_rollout.evals.spending import parse_spending

    return parse_spending(kwargs, where)


def _errors(kwargs: Mapping[str, Any], where: str) -> tuple[type[BaseException], ...]:
    """``errors=``: an exception class or a tuple/list of them, replacing :data:`DEFAULT_ERRORS`."""
    raw = kwargs.get("errors")
    if raw is None:
        return DEFAULT_ERRORS
    items = (raw,) if isinstance(raw, type) else raw
    if not isinstance(items, (tuple, list)) or not all(
        isinstance(c, type) and issubclass(c, Exception) and not issubclass(c, AssertionError) for c in items
    ):
        raise _fail(
            where,
            f"errors= takes exception classes (not AssertionError), e.g. errors=(TimeoutError, RateLimitError), "
            f"got {raw!r}; use errors=() to count every exception as a failure",
        )
    return tuple(items)


def _fail(where: str, text: str) -> MarkerError:
    return MarkerError(f"{where}: eval(): {text}")


def _refuse_positional(args: tuple[Any, ...], where: str) -> None:
    """Positional values are ambiguous (is ``eval(300, 0.8)`` a rate or a score?)."""
    if args:
        shown = ", ".join(repr(a) for a in args)
        raise _fail(
            where,
            f"positional arguments are not allowed (got {shown}); use keywords, e.g. eval(trials=300, pass_rate=0.8)",
        )


def _refuse_unknown(kwargs: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(kwargs) - ALLOWED_EVAL_KWARGS)
    if not unknown:
        return
    names = ", ".join(repr(u) for u in unknown)
    noun = "argument" if len(unknown) == 1 else "arguments"
    allowed = ", ".join(sorted(ALLOWED_EVAL_KWARGS))
    raise _fail(where, f"unknown {noun} {names}; allowed: {allowed}{_suggest_kwargs(unknown)}")


def _suggest_kwargs(unknown: list[str]) -> str:
    pairs = [(u, _closest(u, ALLOWED_EVAL_KWARGS)) for u in unknown]
    found = [(u, m) for u, m in pairs if m is not None]
    if not found:
        return ""
    if len(unknown) == 1:
        return f" (did you mean {found[0][1]!r}?)"
    return " (did you mean " + ", ".join(f"{m!r} for {u!r}" for u, m in found) + "?)"


def _closest(word: str, choices: Sequence[str] | frozenset[str]) -> str | None:
    matches = difflib.get_close_matches(word, sorted(choices), n=1)
    return matches[0] if matches else None


def _criteria(kwargs: Mapping[str, Any], where: str) -> tuple[Criterion | None, float | None, float | None]:
    """At most one absolute criterion, plus an optional relative one; at least one overall."""
    given = [c for c in _CRITERIA if kwargs.get(c) is not None]
    if len(given) > 1:
        raise _fail(
            where,
            "pass_rate= and min_score= are exclusive: use pass_rate= for pass/fail outcomes "
            "or min_score= for scores recorded with trial.score(x)",
        )
    max_regression = _ranged(
        kwargs, "max_regression", where, (0.0, 1.0), "0 < max_regression < 1", lo_open=True, hi_open=True
    )
    if not given and max_regression is None:
        raise _fail(where, "no criterion; give one of pass_rate=, min_score= (absolute) and/or max_regression=")
    if not given:
        return None, None, max_regression
    name = given[0]
    threshold = _ranged(kwargs, name, where, (0.0, 1.0), f"0 < {name} <= 1", lo_open=True)
    return name, threshold, max_regression


def _check_room(criterion: str, threshold: float, margin: float, where: str) -> None:
    """The 'bad' hypothesis is ``theta <= threshold - margin``: it must not be empty."""
    if threshold - margin <= 0:
        raise _fail(
            where,
            f"{criterion}={threshold:g} with margin={margin:g} leaves no room below the threshold: "
            f"{criterion} - margin must be > 0; lower margin= or raise {criterion}=",
        )


def _trials(kwargs: Mapping[str, Any], where: str) -> int:
    if kwargs.get("trials") is None:
        raise _fail(where, "trials= is required: the budget, the most runs of the test body (an int >= 1)")
    return _int_arg(kwargs, "trials", where, default=1)


def _int_arg(kwargs: Mapping[str, Any], name: str, where: str, *, default: int) -> int:
    """An int >= 1 (``None`` = not given); ``bool`` is refused although Python counts it as an int."""
    value = kwargs.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise _fail(where, f"{name}= must be an int >= 1, got {value!r}")
    return int(value)


def _probability(kwargs: Mapping[str, Any], name: str, where: str) -> float | None:
    """``confidence``/``power``: error rates of 0.5 or more would be no better than a coin flip."""
    return _ranged(kwargs, name, where, (0.5, 1.0), f"0.5 < {name} < 1", lo_open=True, hi_open=True)


def _timeout(kwargs: Mapping[str, Any], where: str) -> float | None:
    value = _number(kwargs, "timeout", where)
    if value is not None and not (value > 0 and math.isfinite(value)):
        raise _fail(where, f"timeout={value!r} is out of range; allowed: a finite number of seconds > 0")
    return value


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _number(kwargs: Mapping[str, Any], name: str, where: str) -> float | None:
    """A real number (``None`` = not given). ``bool`` is refused: ``True`` is no rate."""
    value = kwargs.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _fail(where, f"{name}= must be a number, got {value!r} ({type(value).__name__})")
    return float(value)


def _ranged(
    kwargs: Mapping[str, Any],
    name: str,
    where: str,
    bounds: tuple[float, float],
    allowed: str,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float | None:
    """A number within ``bounds`` or ``None``; written as ``not (...)`` so NaN is refused too."""
    value = _number(kwargs, name, where)
    if value is None:
        return None
    lo, hi = bounds
    above = value > lo if lo_open else value >= lo
    below = value < hi if hi_open else value <= hi
    if not (above and below):
        raise _fail(where, f"{name}={value!r} is out of range; allowed: {allowed}")
    return value


# ---------------------------------------------------------------- cases


def _cases_and_epochs(kwargs: Mapping[str, Any], trials: int, where: str) -> tuple[tuple[Case, ...] | None, int]:
    raw = kwargs.get("cases")
    if raw is None:
        if kwargs.get("epochs") is not None:
            raise _fail(where, "epochs= repeats each case, so it needs cases=; without cases, raise trials= instead")
        return None, 1
    epochs = _int_arg(kwargs, "epochs", where, default=1)
    cases = _resolve_cases(raw, where)
    if trials < epochs:
        raise _fail(
            where,
            f"trials={trials} is less than epochs={epochs}, so not one case can finish; "
            f"trials counts case x epoch runs: give trials >= {epochs}",
        )
    full = len(cases) * epochs
    if trials < full:
        ran = min(trials // epochs, len(cases))
        raise _fail(
            where,
            f"trials={trials} runs only {ran} of the {len(cases)} cases x {epochs} epochs "
            f"({trials - ran * epochs} trials unused): trials counts case x epoch runs, so give trials={full} "
            f"to run every case, or pass fewer cases",
        )
    return cases, epochs


def _resolve_cases(raw: object, where: str) -> tuple[Case, ...]:
    """Call a ``cases=`` callable once, then normalise and check every entry."""
    entries = _call_cases(raw, where) if callable(raw) else raw
    if not isinstance(entries, (list, tuple)) or not entries:
        got = f"an empty {type(entries).__name__}" if isinstance(entries, (list, tuple)) else type(entries).__name__
        source = "the cases= callable returned" if callable(raw) else "got"
        raise _fail(
            where,
            f"cases= must be a non-empty list or tuple, or a zero-argument callable returning one; {source} {got}",
        )
    cases = tuple(_to_case(entry, i, where) for i, entry in enumerate(entries))
    _check_unique(cases, where)
    return cases


def _call_cases(fn: Callable[..., object], where: str) -> object:
    """Run the user's loader; its failure becomes a usage error that names it, with the cause chained."""
    _check_no_params(fn, where)
    try:
        return fn()
    except Exception as exc:
        name = getattr(fn, "__qualname__", repr(fn))
        raise _fail(where, f"cases= callable {name} raised {type(exc).__name__}: {exc}") from exc


def _check_no_params(fn: Callable[..., object], where: str) -> None:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # some builtins have no introspectable signature: let the call decide
    try:
        signature.bind()
    except TypeError:
        raise _fail(where, f"cases= callable must take no arguments; its signature is {signature}") from None


def _to_case(entry: object, position: int, where: str) -> Case:
    """A mapping with "id", an object with ``.id`` (dataclass, namedtuple), or an (id, value) pair."""
    if isinstance(entry, Mapping):
        if "id" not in entry:
            raise _fail(where, f"cases[{position}] is a mapping without an 'id' key; every case needs an id")
        return Case(_case_id(entry["id"], position, where), entry)
    if hasattr(entry, "id"):
        return Case(_case_id(entry.id, position, where), entry)
    if isinstance(entry, tuple) and len(entry) == 2:
        return Case(_case_id(entry[0], position, where), entry[1])
    raise _fail(
        where,
        f"cases[{position}] is {type(entry).__name__}; expected a mapping with an 'id' key, "
        "an object with an 'id' attribute, or an (id, value) tuple",
    )


def _case_id(raw: object, position: int, where: str) -> str:
    """Ids are compared as strings (baselines store them as text); None or "" is no id."""
    text = "" if raw is None else str(raw)
    if not text:
        raise _fail(where, f"cases[{position}] has an empty id ({raw!r}); case ids must be non-empty")
    return text


def _check_unique(cases: tuple[Case, ...], where: str) -> None:
    """Baselines pair by case id, so two cases with one id would be compared wrongly."""
    first: dict[str, int] = {}
    for position, case in enumerate(cases):
        if case.id in first:
            raise _fail(
                where,
                f"duplicate case id {case.id!r} (cases[{first[case.id]}] and cases[{position}]); "
                "case ids must be unique",
            )
        first[case.id] = position


# ---------------------------------------------------------------- layer markers


def parse_layer_markers(
    names_per_marker: Sequence[tuple[Any, ...]], known_layers: Sequence[str], *, where: str
) -> tuple[str, ...]:
    """Union the names of every ``layer(...)`` marker on a test, sorted and deduplicated."""
    names: set[str] = set()
    for args in names_per_marker:
        names.update(_check_layer_marker(args, known_layers, where))
    return tuple(sorted(names))


def _check_layer_marker(args: tuple[Any, ...], known_layers: Sequence[str], where: str) -> tuple[str, ...]:
    shown = f"layer({', '.join(repr(a) for a in args)})"
    known = ", ".join(sorted(known_layers)) or "(none)"
    if not args:
        raise MarkerError(f"{where}: layer(): no layer names; give at least one of: {known}")
    for name in args:
        if not isinstance(name, str) or not name:
            raise MarkerError(
                f"{where}: {shown}: layer names are non-empty strings, got {name!r}; known layers: {known}"
            )
        if name not in known_layers:
            match = _closest(name, known_layers)
            hint = f" (did you mean {match!r}?)" if match else ""
            raise MarkerError(f"{where}: {shown}: unknown layer {name!r}; known layers: {known}{hint}")
    return tuple(args)
