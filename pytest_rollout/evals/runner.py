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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_rollout.diff.redact import scrub_text
from pytest_rollout.models import EvalResult, TrialValue

if TYPE_CHECKING:
    import pytest

    from pytest_rollout.baselines.store import Baseline
    from pytest_rollout.evals.markers import EvalSpec
    from pytest_rollout.evals.trials import OnLoop, RunResult, Trial, TrialRecord
    from pytest_rollout.evals.verdicts import Monitor

CRITERION_LABEL = {"pass_rate": "pass rate", "min_score": "mean score", "max_regression": "change vs baseline"}


def failure_text(result: EvalResult) -> str:
    """A non-PASS verdict as the item's failure: the report line and replayable failing trials."""
    lines = [f"{result.verdict}: {result.line}"]
    if result.failing_trials:
        lines.append(f"first failing trials (replay with --rollout-seed {result.seed}):")
        lines += [f"  {t}" for t in result.failing_trials]
    return scrub_text("\n".join(lines))


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


def bind_test_body(func: Callable[..., Any], funcargs: dict[str, Any]) -> Callable[[Trial], Any]:
    """The test function with its fixtures bound; ``trial`` is filled per call."""
    names = [n for n in inspect.signature(func).parameters if n in funcargs]

    def call(trial: Trial) -> Any:
        kwargs = {n: funcargs[n] for n in names}
        if "trial" in kwargs:
            kwargs["trial"] = trial
        return func(**kwargs)

    return call


class MissingScore(Exception):
    """A ``min_score`` trial that passed without ``trial.score(x)``: an error trial, never a 1.0."""


_NO_SCORE = (
    "the body returned without calling trial.score(x): a min_score eval judges scores, "
    "so every trial that does not fail must record one in [0, 1]"
)


def _requiring_score(call: Callable[[Trial], Any], is_async: bool) -> Callable[[Trial], Any]:
    def check(trial: Trial) -> None:
        if trial.recorded_score is None:
            raise MissingScore(_NO_SCORE)

    if is_async:

        async def scored_async(trial: Trial) -> Any:
            result = await call(trial)
            check(trial)
            return result

        return scored_async

    def scored(trial: Trial) -> Any:
        result = call(trial)
        if not inspect.isawaitable(result):
            check(trial)
        return result

    return scored


class _Comparison:
    """``max_regression``: pairs each unit with the baseline by case id, else with a seeded draw.

    Paired: the candidate's units come in the one seeded random order of its current case set;
    a case the baseline does not know is skipped by this criterion (the absolute one still uses
    it). Unpaired (no case ids on one side): the i-th unit is compared with an independent,
    seeded draw (with replacement) from the baseline's stored values. Stored values come in
    per-case blocks when the baseline was recorded with ``cases=``, so index pairing would not
    be random; a draw is i.i.d. whatever the order, and the test stays valid for the baseline's
    mean (``verdicts.baseline_draws``).
    """

    def __init__(
        self, baseline: Baseline, unit_ids: list[str] | None, monitor_for: Callable[[int], Any], draw_seed: int
    ) -> None:
        self.baseline = baseline
        self.paired = unit_ids is not None and bool(baseline.case_means)
        if self.paired:
            assert unit_ids is not None
            self.refs = [baseline.case_means.get(cid) for cid in unit_ids]
            self.added = sum(1 for r in self.refs if r is None)
            self.removed = len(set(baseline.case_means) - set(unit_ids))
        else:
            from pytest_rollout.evals.verdicts import baseline_draws

            self.refs = list(baseline_draws(baseline.values, draw_seed))
            self.added = self.removed = 0
        self.pairable = sum(1 for r in self.refs if r is not None)
        self.monitor = monitor_for(max(self.pairable, 1))
        self.fed = 0

    def update(self, index: int, x: float) -> None:
        from pytest_rollout.evals.verdicts import regression_unit

        ref = self.refs[index] if index < len(self.refs) else None
        if ref is not None:
            self.monitor.update(regression_unit(x, ref))
            self.fed += 1

    @property
    def exhausted(self) -> bool:
        return self.fed >= self.pairable


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
        comparison = _Comparison(
            opts.baseline,
            ids,
            lambda n: verdicts.Monitor(
                verdicts.design_for("max_regression", delta, spec.margin, alpha, beta, min(n, spec.units_budget))
            ),
            trials.trial_seed(opts.seed, nodeid + "::baseline-draws", 0),
        )
    if absolute is None and comparison is None and not (opts.recording or opts.full_budget):
        return EvalRun(no_baseline_result(nodeid, layers, spec, opts), [])
    feed = _feeder(absolute, comparison)
    if opts.full_budget or (opts.recording and spec.max_regression is not None):
        # A baseline pairs by case: record every case of the budget, never an early-stopped few;
        # attribution pairs every trial across its hybrids the same way.
        feed = _record_all(feed)
    if spec.criterion == "min_score":
        call = _requiring_score(call, is_async)
    run = trials.run_trials(
        failures_from_exceptions(call, spec.errors, is_async=is_async),
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
    )
    verdict = _verdict(run, spec, absolute, comparison, opts)
    return EvalRun(_result(nodeid, layers, spec, absolute, comparison, run, verdict, opts), run.records)


def eval_alpha(spec: EvalSpec, family_size: int, correction: str, *, both: bool) -> float:
    """One eval's false-FAIL rate: 1 - confidence, corrected for the family of evals, and
    halved when two criteria (absolute and max_regression) must both hold."""
    from pytest_rollout.evals.verdicts import family_alpha

    alpha = family_alpha(1 - spec.confidence, family_size, correction)  # type: ignore[arg-type]
    return alpha / 2 if both else alpha


def _feeder(absolute: Any, comparison: _Comparison | None) -> Callable[[int, float], str | None]:
    """Feed each unit to every criterion; stop at the first FAIL or when all are settled.

    The runner names each unit's index (its case's position in the case order), so a
    case whose every epoch errored is skipped without shifting the baseline pairing.
    """

    def feed(index: int, x: float) -> str | None:
        if absolute is not None:
            absolute.update(x)
        if comparison is not None:
            comparison.update(index, x)
        states = [m.decided for m in _monitors(absolute, comparison)]
        if "FAIL" in states:
            return "FAIL"
        if comparison is not None and comparison.exhausted and comparison.monitor.decided is None:
            return None if absolute is not None and absolute.decided is None else "EXHAUSTED"
        return "PASS" if states and all(s == "PASS" for s in states) else None

    return feed


def _monitors(absolute: Monitor | None, comparison: _Comparison | None) -> list[Monitor]:
    """The criteria's monitors that exist for this eval."""
    found = [absolute] if absolute is not None else []
    return found + ([comparison.monitor] if comparison is not None else [])


def _record_all(feed: Callable[[int, float], str | None]) -> Callable[[int, float], None]:
    def record_all(index: int, x: float) -> None:
        feed(index, x)  # the criteria still decide; the run goes on to the budget

    return record_all


def _verdict(run: RunResult, spec: EvalSpec, absolute: Any, comparison: _Comparison | None, opts: EvalOptions) -> str:
    """ERROR past the error budget (never PASS); else every criterion must PASS.

    Only the consumed prefix counts (``used`` records), so the verdict never depends
    on which trials happened to be in flight at the stop. ERROR needs evidence at the eval's
    alpha that the error rate is above ``max_error_rate`` (``error_budget.ErrorRateTest``), or
    a spent error headroom; an observed share a little above it is not enough.
    """
    if run.aborted_for_errors:
        return "ERROR"
    monitors = _monitors(absolute, comparison)
    if not monitors:
        return "NO_BASELINE"  # recording a max_regression eval that has nothing to compare with yet
    if all(m.n == 0 for m in monitors):
        return "ERROR"
    verdicts = [m.finish() for m in monitors]
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
    comparison: _Comparison | None,
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
        fields.update(baseline_commit=comparison.baseline.commit, baseline_cases=comparison.baseline.cases or None)
        if absolute is not None:
            fields["criteria"] = {spec.criterion: absolute.finish(), "max_regression": comparison.monitor.finish()}
    monitors = _monitors(absolute, comparison)
    ps = [m.p_value() for m in monitors]  # each criterion decides at alpha / len(monitors)
    result = EvalResult(
        nodeid=nodeid,
        layers=list(layers),
        verdict=verdict,  # type: ignore[arg-type]
        criterion=spec.criterion or "max_regression",
        threshold=spec.threshold,
        margin=spec.margin,
        confidence=spec.confidence,
        alpha=main.design.alpha * len(monitors) if main else None,
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
        failing_trials=_failing(used),
        max_regression=spec.max_regression,
        trials=[_trial_value(r) for r in used],
        **fields,
    )
    return result.model_copy(update={"line": report_line(result, _basis(absolute, comparison), comparison, opts)})


def _trial_value(r: TrialRecord) -> TrialValue:
    value = None if r.outcome == "error" else (r.score if r.score is not None else float(r.outcome == "pass"))
    return TrialValue(index=r.index, case=r.case_id, epoch=r.epoch, value=value)


def _basis(absolute: Any, comparison: _Comparison | None) -> str:
    """The decision rule of each criterion and what its printed interval is."""
    if comparison is None:
        return f"{absolute.basis()}, {absolute.bounds_label()}" if absolute is not None else "no criterion"
    parts = [f"{absolute.design.criterion}: {absolute.basis()}"] if absolute is not None else []
    monitor = comparison.monitor
    return "; ".join([*parts, f"max_regression: {monitor.basis()}"]) + f", intervals {monitor.bounds_label()}"


def failures_from_exceptions(
    call: Callable[[Trial], Any], errors: tuple[type[BaseException], ...], *, is_async: bool
) -> Callable[[Trial], Any]:
    """The test body with every exception but the named infrastructure ones turned into a failure.

    A JSON parse error of the model's output is the model failing, not the harness: it must count
    as a failed trial, or a bad model would PASS by crashing. Only ``errors`` (the marker's
    ``errors=``, by default timeouts and connection errors) stay error trials, which carry no
    outcome and count against ``max_error_rate``.
    """

    def convert(exc: Exception) -> BaseException:
        if isinstance(exc, AssertionError) or isinstance(exc, errors):
            return exc
        return TrialFailure(f"{type(exc).__name__}: {exc}")

    async def guarded(awaitable: Any) -> Any:
        try:
            return await awaitable
        except Exception as exc:
            raise convert(exc) from exc

    def wrapped(trial: Trial) -> Any:
        try:
            result = call(trial)
        except Exception as exc:
            raise convert(exc) from exc
        return guarded(result) if is_async and inspect.isawaitable(result) else result

    return wrapped


class TrialFailure(AssertionError):
    """An exception of the body that is not an infrastructure error: the trial failed."""


def _failing(records: Sequence[Any]) -> list[str]:
    out: list[str] = []
    for r in records:
        if r.outcome in ("fail", "error") and len(out) < 3:
            case = f" case={r.case_id}" if r.case_id is not None else ""
            kind = "error " + (r.error_kind or "") if r.outcome == "error" else "fail"
            out.append(scrub_text(f"trial {r.index}{case} seed={r.seed}: {kind}: {r.message or ''}".rstrip()))
    return out


def report_line(
    result: EvalResult, basis: str, comparison: _Comparison | None = None, opts: EvalOptions | None = None
) -> str:
    """``pass rate 0.85 [0.74, 0.93] vs 0.80 (margin 0.05)  n=142/300, stopped early  (SPRT ...)``."""
    parts = []
    if result.criterion != "max_regression" or result.estimate is not None:
        label = CRITERION_LABEL.get(result.criterion, result.criterion)
        est = f"{label} n/a"
        if result.estimate is not None and result.interval is not None:
            lo, hi = result.interval
            est = f"{label} {result.estimate:.2f} [{lo:.2f}, {hi:.2f}]"
        if result.threshold is not None:
            est += f" vs {result.threshold:.2f} (margin {result.margin:.2f})"
        parts.append(est)
    if comparison is not None:
        parts.append(_change_text(result, comparison))
    if result.criteria:
        parts = [f"{part} {verdict}" for part, verdict in zip(parts, result.criteria.values(), strict=True)]
    elif opts is not None and opts.missing_baseline and result.criterion != "max_regression":
        parts.append("max_regression not checked: no baseline")
    size = f"n={result.n}/{result.budget}"
    if result.cases is not None:
        epochs = f"{result.epochs} epoch{'' if result.epochs == 1 else 's'}"
        size = f"{result.cases} cases x {epochs}, n={result.n}/{result.budget}"
    if result.stopped_early:
        size += ", stopped early"
    if result.errors:
        size += f", {result.errors} error trial{'s' if result.errors != 1 else ''}"
    return f"{'; '.join(parts)}  {size}  ({basis})"


def _change_text(result: EvalResult, comparison: _Comparison) -> str:
    b = comparison.baseline
    if result.change is None or result.change_interval is None:
        head = "change vs baseline n/a"
    else:
        lo, hi = result.change_interval
        head = f"change vs baseline {result.change:+.2f} [{lo:+.2f}, {hi:+.2f}]"
    delta = -comparison.monitor.design.max_drop
    how = f"paired on {comparison.fed} cases" if comparison.paired else f"unpaired, {comparison.fed} trial pairs"
    extra = (
        f", {comparison.added} new and {comparison.removed} dropped cases"
        if comparison.added or comparison.removed
        else ""
    )
    return f"{head} >= {delta:+.2f} ({how}{extra}, baseline {b.commit[:7]})"


def finalize_family(evals: Sequence[EvalResult]) -> list[EvalResult]:
    """Holm- and BH-adjusted always-valid p-values over the whole run (JSON only)."""
    if not evals:
        return []
    from pytest_rollout.evals.verdicts import bh, holm

    ps = [e.p_value if e.p_value is not None else 1.0 for e in evals]
    return [e.model_copy(update={"holm_p": h, "bh_q": q}) for e, h, q in zip(evals, holm(ps), bh(ps), strict=True)]


def budget_warning(spec: EvalSpec, family_size: int, correction: str) -> str | None:
    """A collection-time warning when ``trials`` is below the calibrated minimum (pass_rate).

    Below it the truncated SPRT can end INCONCLUSIVE, which fails by default; the
    message gives the minimum budget, the INCONCLUSIVE rate at the threshold and
    the trials a run is expected to spend (docs/statistics.md, "Budget warnings").
    """
    if spec.criterion != "pass_rate" or spec.threshold is None or spec.cases:
        return None  # with cases= the unit is a case and the betting test has no calibrated minimum
    from pytest_rollout.evals import verdicts

    alpha = eval_alpha(spec, family_size, correction, both=spec.max_regression is not None)
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
