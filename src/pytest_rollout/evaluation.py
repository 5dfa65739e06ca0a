"""One eval, end to end: spec + trials + sequential verdict -> ``EvalResult``.

The plugin hands over the item; this module binds the test body to its
fixtures, runs the trials (``trials.py``), feeds the verdict rule
(``verdicts.py``) in trial-index order and builds the result and its report line.
Function-scoped fixtures are set up once per eval, not once per trial: a trial
is a call of the test body, so fixtures that must be fresh per trial should be
factories.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pytest_rollout.models import EvalResult

if TYPE_CHECKING:
    import pytest

    from pytest_rollout.evalspec import EvalSpec
    from pytest_rollout.plugin import SessionState
    from pytest_rollout.trials import RunResult, Trial

CRITERION_LABEL = {"pass_rate": "pass rate", "min_score": "mean score", "max_regression": "change vs baseline"}


def failure_text(result: EvalResult) -> str:
    """A non-PASS verdict as the item's failure: the report line and replayable failing trials."""
    lines = [f"{result.verdict}: {result.line}"]
    if result.failing_trials:
        lines.append(f"first failing trials (replay with --rollout-seed {result.seed}):")
        lines += [f"  {t}" for t in result.failing_trials]
    return "\n".join(lines)


def run_eval_item(
    item: pytest.Function, spec: EvalSpec, layers: Sequence[str], state: SessionState, config: pytest.Config
) -> EvalResult:
    from pytest_rollout.plugin import setting

    call = bind_test_body(item.obj, item.funcargs)
    correction = setting(config, "rollout_correction") or "bonferroni"
    return run_eval(
        call, spec, nodeid=item.nodeid, layers=tuple(layers), seed=state.seed,
        family_size=max(state.eval_count, 1), correction=correction,
        is_async=inspect.iscoroutinefunction(item.obj),
    )


def bind_test_body(func: Callable[..., Any], funcargs: dict[str, Any]) -> Callable[[Trial], Any]:
    """The test function with its fixtures bound; ``trial`` is filled per call."""
    names = [n for n in inspect.signature(func).parameters if n in funcargs]

    def call(trial: Trial) -> Any:
        kwargs = {n: funcargs[n] for n in names}
        if "trial" in kwargs:
            kwargs["trial"] = trial
        return func(**kwargs)

    return call


def run_eval(
    call: Callable[[Trial], Any], spec: EvalSpec, *, nodeid: str, layers: tuple[str, ...], seed: int,
    family_size: int, correction: str, is_async: bool,
) -> EvalResult:
    from pytest_rollout import trials, verdicts

    criterion = spec.criterion or "pass_rate"
    alpha = verdicts.family_alpha(1 - spec.confidence, family_size, correction)  # type: ignore[arg-type]
    beta = 1 - spec.resolved_power
    design = verdicts.design_for(
        criterion, spec.threshold or 0.0, spec.margin, alpha, beta, spec.units_budget, cases=bool(spec.cases)
    )
    monitor = verdicts.Monitor(design)
    run = trials.run_trials(
        call, is_async=is_async, budget_trials=spec.trials_budget, session_seed=seed, nodeid=nodeid,
        cases=spec.cases, epochs=spec.epochs, concurrency=spec.concurrency, timeout=spec.timeout,
        max_error_rate=spec.max_error_rate, feed=monitor.update,
    )
    verdict = _verdict(run, monitor, spec)
    return _result(nodeid, layers, criterion, spec, design, monitor, run, verdict, seed)


def _verdict(run: RunResult, monitor: Any, spec: EvalSpec) -> str:
    """ERROR past the error budget (never PASS); else the rule's verdict or INCONCLUSIVE.

    Only the consumed prefix counts (``used`` records), so the verdict never depends
    on which trials happened to be in flight at the stop.
    """
    if run.aborted_for_errors or (run.completed and run.errors / run.completed > spec.max_error_rate):
        return "ERROR"
    if monitor.decided is not None:
        return str(monitor.decided)
    if monitor.n == 0:
        return "ERROR"
    return str(monitor.finish())


def _result(
    nodeid: str, layers: tuple[str, ...], criterion: str, spec: EvalSpec, design: Any, monitor: Any,
    run: RunResult, verdict: str, seed: int,
) -> EvalResult:
    used = [r for r in run.records if r.used]
    interval = monitor.interval(spec.confidence) if monitor.n else None
    estimate = monitor.estimate if monitor.n else None
    result = EvalResult(
        nodeid=nodeid, layers=list(layers), verdict=verdict, criterion=criterion,  # type: ignore[arg-type]
        threshold=spec.threshold, margin=spec.margin, confidence=spec.confidence,
        alpha=design.alpha, beta=design.beta, estimate=estimate, interval=interval,
        n=run.completed, budget=spec.trials_budget,
        passes=sum(1 for r in used if r.outcome == "pass"),
        failures=sum(1 for r in used if r.outcome == "fail"),
        errors=run.errors,
        cases=monitor.n if spec.cases else None, epochs=spec.epochs if spec.cases else None,
        stopped_early=run.stopped_early, seed=seed, p_value=monitor.p_value(),
        failing_trials=_failing(used),
    )
    return result.model_copy(update={"line": report_line(result, monitor.basis())})


def _failing(records: Sequence[Any]) -> list[str]:
    out = []
    for r in records:
        if r.outcome in ("fail", "error") and len(out) < 3:
            case = f" case={r.case_id}" if r.case_id is not None else ""
            kind = "error " + (r.error_kind or "") if r.outcome == "error" else "fail"
            out.append(f"trial {r.index}{case} seed={r.seed}: {kind}: {r.message or ''}".rstrip())
    return out


def report_line(result: EvalResult, basis: str) -> str:
    """``pass rate 0.85 [0.74, 0.93] vs 0.80 (margin 0.05)  n=142/300, stopped early  (SPRT ...)``."""
    label = CRITERION_LABEL.get(result.criterion, result.criterion)
    if result.estimate is None or result.interval is None:
        est = f"{label} n/a"
    else:
        lo, hi = result.interval
        est = f"{label} {result.estimate:.2f} [{lo:.2f}, {hi:.2f}]"
    if result.threshold is not None:
        est += f" vs {result.threshold:.2f} (margin {result.margin:.2f})"
    size = f"n={result.n}/{result.budget}"
    if result.cases is not None:
        size = f"{result.cases} cases x {result.epochs} epochs, n={result.n}/{result.budget}"
    if result.stopped_early:
        size += ", stopped early"
    if result.errors:
        size += f", {result.errors} error trials"
    return f"{est}  {size}  ({basis})"


def finalize_family(evals: Sequence[EvalResult]) -> list[EvalResult]:
    """Holm- and BH-adjusted always-valid p-values over the whole run (JSON only)."""
    if not evals:
        return []
    from pytest_rollout.verdicts import bh, holm

    ps = [e.p_value if e.p_value is not None else 1.0 for e in evals]
    return [e.model_copy(update={"holm_p": h, "bh_q": q}) for e, h, q in zip(evals, holm(ps), bh(ps))]


def budget_warning(spec: EvalSpec, family_size: int, correction: str) -> str | None:
    """A collection-time warning when ``trials`` is below the calibrated minimum (pass_rate).

    Below it the truncated SPRT can end INCONCLUSIVE, which fails by default; the
    message gives the minimum budget, the INCONCLUSIVE rate at the threshold and
    the trials a run is expected to spend (STATISTICS.md §5 note 3).
    """
    if spec.criterion != "pass_rate" or spec.threshold is None:
        return None
    from pytest_rollout import verdicts

    alpha = verdicts.family_alpha(1 - spec.confidence, family_size, correction)  # type: ignore[arg-type]
    beta = 1 - spec.resolved_power
    minimum = verdicts.minimum_budget("pass_rate", spec.threshold, spec.margin, alpha, beta)
    if minimum is None or spec.units_budget >= minimum:
        return None
    design = verdicts.design_for("pass_rate", spec.threshold, spec.margin, alpha, beta, spec.units_budget)
    _, _, inconclusive, _ = verdicts.exact_oc(design, spec.threshold)
    expected = verdicts.expected_trials(spec.threshold, spec.margin, alpha, beta, spec.threshold, budget=minimum)
    return (
        f"eval budget trials={spec.units_budget} is below the calibrated minimum {minimum} for pass_rate "
        f"{spec.threshold:.2f} (margin {spec.margin:.2f}, a={alpha:.2g}, b={beta:.2g}): at the threshold it ends "
        f"INCONCLUSIVE {inconclusive:.0%} of the time. With trials={minimum} it never does, and spends "
        f"~{expected:.0f} trials on average"
    )
