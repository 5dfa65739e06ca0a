"""One eval, end to end: spec + trials + sequential verdict -> ``EvalResult``.

The plugin hands over the item; this module binds the test body to its
fixtures, runs the trials (``trials.py``), feeds the verdict rule
(``verdicts``) in trial-index order and builds the result and its report line.
Function-scoped fixtures are set up once per eval, not once per trial: a trial
is a call of the test body, so fixtures that must be fresh per trial should be
factories.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_rollout.evals.bodies import bind_test_body, failures_from_exceptions, requiring_score
from pytest_rollout.evals.criteria import Comparison, basis, feeder, monitors, record_all
from pytest_rollout.evals.lines import DEFAULT_FAILURES, failing, report_line
from pytest_rollout.evals.results import case_results, eval_usage, trial_value
from pytest_rollout.evals.retries import RetryPolicy, retrying, spec_policy
from pytest_rollout.models import EvalResult

if TYPE_CHECKING:
    import pytest

    from pytest_rollout.baselines.store import Baseline
    from pytest_rollout.evals.markers import EvalSpec
    from pytest_rollout.evals.trials import OnLoop, RunResult, Trial, TrialRecord


@dataclass(frozen=True)
class EvalOptions:
    """Session-wide inputs of one eval run."""

    seed: int
    family_size: int = 1
    correction: str = "bonferroni"
    baseline: Baseline | None = None
    missing_baseline: str | None = None  # why there is none (with the command that records one)
    recording: bool = False
    full_budget: bool = False  # every trial of the budget, absolute criterion only (attribution)
    failures: int = DEFAULT_FAILURES  # failing trials shown (--rollout-failures)
    retry_policy: Callable[[EvalSpec], RetryPolicy | None] | None = None  # tests inject sleeps; None: spec_policy


@dataclass(frozen=True)
class EvalRun:
    result: EvalResult
    records: list[TrialRecord]


def missing_baseline_action(spec: EvalSpec, opts: EvalOptions, policy: str) -> str | None:
    """What a max_regression eval without a baseline does: "skip", "no_baseline" (fail), or None (run).

    Recording runs it anyway (it becomes the first baseline); so does an eval that also has an
    absolute criterion under ``--rollout-missing-baseline=skip`` (that criterion still decides).
    """
    if opts.missing_baseline is None or opts.recording:
        return None
    if policy == "fail" or spec.criterion is None:
        return "skip" if policy == "skip" else "no_baseline"
    return None


def verdict_passes(verdict: str, inconclusive: str, recording: bool) -> bool:
    """Whether the item passes: PASS; INCONCLUSIVE under ``--rollout-inconclusive=pass``; a
    NO_BASELINE while recording the first baseline."""
    if verdict == "PASS":
        return True
    if verdict == "INCONCLUSIVE":
        return inconclusive == "pass"
    return verdict == "NO_BASELINE" and recording


def run_eval_item(
    item: pytest.Function,
    spec: EvalSpec,
    layers: Sequence[str],
    opts: EvalOptions,
    *,
    func: Callable[..., Any] | None = None,
    on_loop: OnLoop | None = None,
) -> EvalRun:
    """``func``: the test function when the plugin has put a stand-in in ``item.obj``;
    ``on_loop``: the loop async trials run on (``evals.loops``)."""
    body = item.obj if func is None else func
    call = bind_test_body(body, item.funcargs)
    is_async = inspect.iscoroutinefunction(body)
    return run_eval(call, spec, nodeid=item.nodeid, layers=tuple(layers), opts=opts, is_async=is_async, on_loop=on_loop)


def run_eval(
    call: Callable[[Trial], Any],
    spec: EvalSpec,
    *,
    nodeid: str,
    layers: tuple[str, ...],
    opts: EvalOptions,
    is_async: bool,
    on_loop: OnLoop | None = None,
) -> EvalRun:
    from pytest_rollout.evals import trials, verdicts

    compare = spec.max_regression is not None and opts.baseline is not None and not opts.full_budget
    alpha = eval_alpha(spec, opts.family_size, opts.correction, both=bool(spec.criterion) and compare)
    beta = 1 - spec.resolved_power
    absolute = None
    if spec.criterion:
        design = verdicts.design_for(
            spec.criterion,
            spec.threshold or 0.0,
            spec.margin,
            alpha,
            beta,
            spec.units_budget,
            cases=bool(spec.cases) and spec.epochs > 1,  # one epoch: 0/1 units, the count SPRT
        )
        absolute = verdicts.Monitor(design)
    comparison = None
    if compare:
        assert opts.baseline is not None and spec.max_regression is not None
        order = trials.case_order(spec.cases, opts.seed, nodeid) if spec.cases else None
        ids = [c.id for c in order] if order is not None else None  # errors may reach past the budget
        delta = spec.max_regression
        comparison = Comparison(
            opts.baseline,
            ids,
            lambda n: verdicts.Monitor(
                verdicts.design_for("max_regression", delta, spec.margin, alpha, beta, min(n, spec.units_budget))
            ),
            trials.trial_seed(opts.seed, nodeid + "::baseline-draws", 0),
        )
    if absolute is None and comparison is None and not (opts.recording or opts.full_budget):
        return EvalRun(no_baseline_result(nodeid, layers, spec, opts), [])
    feed = feeder(absolute, comparison)
    if opts.full_budget or (opts.recording and spec.max_regression is not None):
        # A baseline pairs by case: record every case of the budget, never an early-stopped few;
        # attribution pairs every trial across its hybrids the same way.
        feed = record_all(feed)
    call = retrying(call, (opts.retry_policy or spec_policy)(spec), is_async)
    if spec.criterion == "min_score":
        call = requiring_score(call, is_async)
    run = trials.run_trials(
        failures_from_exceptions(call, spec.errors, is_async=is_async, rate_limits=spec.rate_limit_errors),
        is_async=is_async,
        budget_trials=spec.trials_budget,
        session_seed=opts.seed,
        nodeid=nodeid,
        cases=spec.cases,
        epochs=spec.epochs,
        concurrency=spec.concurrency,
        timeout=spec.timeout,
        max_error_rate=spec.max_error_rate,
        feed_unit=feed,
        error_alpha=alpha,
        on_loop=on_loop,
        max_cost=spec.max_cost,
    )
    verdict = _verdict(run, spec, absolute, comparison, opts)
    return EvalRun(_result(nodeid, layers, spec, absolute, comparison, run, verdict, opts), run.records)


def eval_alpha(spec: EvalSpec, family_size: int, correction: str, *, both: bool) -> float:
    """One eval's false-FAIL rate: 1 - confidence, corrected for the family of evals, and
    halved when two criteria (absolute and max_regression) must both hold."""
    from pytest_rollout.evals.verdicts import family_alpha

    alpha = family_alpha(1 - spec.confidence, family_size, correction)  # type: ignore[arg-type]
    return alpha / 2 if both else alpha


def _verdict(run: RunResult, spec: EvalSpec, absolute: Any, comparison: Comparison | None, opts: EvalOptions) -> str:
    """ERROR past the error budget (never PASS); else every criterion must PASS.

    Only the consumed prefix counts (``used`` records), so the verdict never depends
    on which trials happened to be in flight at the stop. ERROR needs evidence at the eval's
    alpha that the error rate is above ``max_error_rate`` (``error_budget.ErrorRateTest``), or
    a spent error headroom; an observed share a little above it is not enough.
    """
    if run.aborted_for_errors:
        return "ERROR"
    if run.cost_limited:
        return "COST_LIMIT"  # stopped undecided: never a PASS
    found = monitors(absolute, comparison)
    if not found:
        return "NO_BASELINE"  # recording a max_regression eval that has nothing to compare with yet
    if all(m.n == 0 for m in found):
        return "ERROR"
    verdicts = [m.finish() for m in found]
    if "FAIL" in verdicts:
        return "FAIL"
    return "PASS" if all(v == "PASS" for v in verdicts) else "INCONCLUSIVE"


def no_baseline_result(nodeid: str, layers: tuple[str, ...], spec: EvalSpec, opts: EvalOptions) -> EvalResult:
    """NO_BASELINE without spending a trial: the message says which command records one."""
    result = EvalResult(
        nodeid=nodeid,
        layers=list(layers),
        verdict="NO_BASELINE",
        criterion="max_regression",
        threshold=None,
        margin=spec.margin,
        confidence=spec.confidence,
        n=0,
        budget=spec.trials_budget,
        seed=opts.seed,
    )
    return result.model_copy(update={"line": opts.missing_baseline or "no baseline"})


def _result(
    nodeid: str,
    layers: tuple[str, ...],
    spec: EvalSpec,
    absolute: Any,
    comparison: Comparison | None,
    run: RunResult,
    verdict: str,
    opts: EvalOptions,
) -> EvalResult:
    from pytest_rollout.evals.verdicts import to_difference

    used = [r for r in run.records if r.used]
    main = absolute or (comparison.monitor if comparison else None)
    fields: dict[str, Any] = {}
    if absolute is not None and absolute.n:
        fields.update(estimate=absolute.estimate, interval=absolute.bounds())
    if comparison is not None and comparison.monitor.n:
        lo, hi = comparison.monitor.bounds()
        fields.update(
            change=to_difference(comparison.monitor.estimate), change_interval=(to_difference(lo), to_difference(hi))
        )
    if comparison is not None:
        b = comparison.baseline
        fields.update(baseline_commit=b.commit, baseline_run=b.run_id, baseline_cases=b.cases or None)
        if absolute is not None:
            fields["criteria"] = {spec.criterion: absolute.finish(), "max_regression": comparison.monitor.finish()}
    found = monitors(absolute, comparison)
    ps = [m.p_value() for m in found]  # each criterion decides at alpha / len(found)
    result = EvalResult(
        nodeid=nodeid,
        layers=list(layers),
        verdict=verdict,  # type: ignore[arg-type]
        criterion=spec.criterion or "max_regression",
        threshold=spec.threshold,
        margin=spec.margin,
        confidence=spec.confidence,
        alpha=main.design.alpha * len(found) if main else None,
        beta=main.design.beta if main else None,
        n=run.completed,
        budget=spec.trials_budget,
        passes=sum(1 for r in used if r.outcome == "pass"),
        failures=sum(1 for r in used if r.outcome == "fail"),
        errors=run.errors,
        cases=run.units_used if spec.cases else None,
        epochs=spec.epochs if spec.cases else None,
        stopped_early=run.stopped_early,
        seed=opts.seed,
        p_value=min(1.0, len(ps) * min(ps)) if ps else None,
        failing_trials=failing(used, opts.failures),
        max_regression=spec.max_regression,
        trials=[trial_value(r) for r in used],
        per_case=case_results(used, comparison.baseline.case_means if comparison is not None else None),
        usage=eval_usage(run.records),
        retries=sum(r.retries for r in run.records),
        max_cost=spec.max_cost,
        **fields,
    )
    return result.model_copy(update={"line": report_line(result, basis(absolute, comparison), comparison, opts)})


def finalize_family(evals: Sequence[EvalResult]) -> list[EvalResult]:
    """Holm- and BH-adjusted always-valid p-values over the whole run (JSON only)."""
    if not evals:
        return []
    from pytest_rollout.evals.verdicts import bh, holm

    ps = [e.p_value if e.p_value is not None else 1.0 for e in evals]
    return [e.model_copy(update={"holm_p": h, "bh_q": q}) for e, h, q in zip(evals, holm(ps), bh(ps), strict=True)]
