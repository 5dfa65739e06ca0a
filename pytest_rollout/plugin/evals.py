"""The eval plugin: markers at collection, layer selection, running an eval's trials, recording.

Collection parses the ``eval``/``layer`` markers (a bad one fails its module); selection keeps
the evals of the moved layers (``evals.selection``); ``pytest_pyfunc_call`` runs an eval item
as repeated trials (``evals.runner``) and records it (``baselines.lookup``); each eval's result
rides on its report so xdist carries it to the controller. Decisions live in those modules.
"""

from __future__ import annotations

import inspect
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_rollout.errors import RolloutError
from pytest_rollout.plugin.gate import known_layers, repo_root_or
from pytest_rollout.plugin.options import Options
from pytest_rollout.plugin.release import BODY_KEY, LAYERS_KEY, RESULT_KEY, SPEC_KEY, STATE_KEY, SessionState

if TYPE_CHECKING:
    from pytest_rollout.baselines.lookup import BaselineContext
    from pytest_rollout.baselines.store import Baseline
    from pytest_rollout.evals.markers import EvalSpec
    from pytest_rollout.evals.runner import EvalOptions, EvalRun

_OUR_MARKS = frozenset({"eval", "layer"})


class EvalPlugin:
    """Evals on whichever process runs them; their results tallied on the controller."""

    def __init__(self, config: pytest.Config, options: Options) -> None:
        self.config = config
        self.options = options
        self.saw_spec = False  # no eval collected: skip the per-item scans

    @property
    def state(self) -> SessionState:
        return self.config.stash[STATE_KEY]

    # -- collection ------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(
        self, collector: pytest.Collector
    ) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
        """Parse the eval/layer markers of each collected test; a bad one fails its collector.

        Once per collector, before its items are used (not once per module attribute,
        as a ``pytest_pycollect_makeitem`` wrapper would be): without evals the cost is
        one look at each test's own (usually empty) marker list.
        """
        report = yield
        if report.passed:
            self._check_collected(collector, report)
        return report

    def _check_collected(self, collector: pytest.Collector, report: pytest.CollectReport) -> None:
        # Markers live in own_markers along the node chain: look at the collector's chain once,
        # then at each test's own (usually empty) list, instead of walking every test's chain.
        inherited = any(m.name in _OUR_MARKS for node in collector.listchain() for m in node.own_markers)
        errors = []
        for node in report.result:
            if isinstance(node, pytest.Function) and (inherited or any(m.name in _OUR_MARKS for m in node.own_markers)):
                try:
                    self._attach_spec(node)
                except RolloutError as exc:
                    errors.append(str(exc))
        if errors:
            report.outcome = "failed"
            report.longrepr = "\n".join(errors)

    def _attach_spec(self, item: pytest.Function) -> None:
        layer_marks = [m.args for m in item.iter_markers("layer")]
        eval_mark = item.get_closest_marker("eval")
        if not layer_marks and eval_mark is None:
            return
        from pytest_rollout.evals.markers import parse_eval_marker, parse_layer_markers

        if layer_marks:
            known = known_layers(self.options, self.config.stash.get(STATE_KEY, None))
            item.stash[LAYERS_KEY] = parse_layer_markers(layer_marks, known, where=item.nodeid)
        if eval_mark is not None:
            item.stash[SPEC_KEY] = parse_eval_marker(eval_mark.args, eval_mark.kwargs, where=item.nodeid)
            self.saw_spec = True

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        state = self.state
        # The family is every eval collected, before the layer selection, --rollout-drift and shards
        # deselect any: its size (and each eval's budget) does not move with what a PR changes.
        state.eval_count = sum(1 for it in items if SPEC_KEY in it.stash) if self.saw_spec else 0
        if self.options.drift:
            from pytest_rollout.evals.selection import drift_only

            evals = [(it.nodeid, it.stash[SPEC_KEY].max_regression is not None) for it in items if SPEC_KEY in it.stash]
            _deselect(config, items, state, drift_only(evals))
        if self.options.scoped:
            from pytest_rollout.evals.selection import select

            _, dropped = select(
                [(it.nodeid, it.stash.get(LAYERS_KEY, None), SPEC_KEY in it.stash) for it in items],
                moved=state.moved,
                blocked=bool(state.decision and state.decision.status == "blocked"),
                because=state.not_selected_because,
            )
            _deselect(config, items, state, dropped)
        if self.options.shard is not None:
            from pytest_rollout.evals.shards import other_shards

            weights = [(it.nodeid, it.stash[SPEC_KEY].trials if SPEC_KEY in it.stash else 1) for it in items]
            _deselect(config, items, state, other_shards(weights, *self.options.shard))
        if state.eval_count:
            self._warn_small_budgets(items, state.eval_count)

    def _warn_small_budgets(self, items: list[pytest.Item], family_size: int) -> None:
        from pytest_rollout.evals.budgets import budget_warnings

        for item in items:
            spec = item.stash.get(SPEC_KEY, None)
            if spec is None:
                continue
            baseline = self.collection_baseline(item, spec)
            for message in budget_warnings(spec, family_size, self.options.correction, baseline):
                item.warn(pytest.PytestWarning(message))

    def collection_baseline(self, item: pytest.Item, spec: EvalSpec) -> Baseline | None:
        """The stored baseline whose variance sizes the budget; None when there is none yet or the
        store cannot say (the run itself reports that problem, the warning only loses its data)."""
        if spec.criterion == "pass_rate" and spec.epochs == 1 and spec.max_regression is None:
            return None  # 0/1 units: the exact DP needs no variance
        if self.options.full_budget:
            return None
        try:
            return self._baselines().lookup(item.nodeid, item.stash.get(LAYERS_KEY, ()))
        except (RolloutError, pytest.fail.Exception):
            return None

    # -- running an eval -------------------------------------------------------
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        """An async eval's test function gives way to a stand-in before ``runtest``, so that
        pytest-asyncio wraps the stand-in for the test's loop (``evals.loops``)."""
        if not (self.saw_spec and SPEC_KEY in item.stash and inspect.iscoroutinefunction(getattr(item, "obj", None))):
            return (yield)
        from pytest_rollout.evals.loops import install_entry

        item.stash[BODY_KEY] = body = install_entry(item)
        try:
            return (yield)
        finally:
            item.obj = body  # type: ignore[attr-defined]
            del item.stash[BODY_KEY]

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        spec = pyfuncitem.stash.get(SPEC_KEY, None)
        if spec is None:
            return None
        from pytest_rollout.evals import runner
        from pytest_rollout.evals.lines import failure_text

        layers = pyfuncitem.stash.get(LAYERS_KEY, ())
        opts = self._eval_options(pyfuncitem.nodeid, spec, layers)
        action = runner.missing_baseline_action(spec, opts, self.options.missing_baseline)
        if action == "skip":
            pytest.skip(opts.missing_baseline or "no baseline")
        if action == "no_baseline":
            run = runner.EvalRun(runner.no_baseline_result(pyfuncitem.nodeid, layers, spec, opts), [])
        else:
            run = runner.run_eval_item(pyfuncitem, spec, layers, opts, **_async_body(pyfuncitem))
        result = run.result
        pyfuncitem.stash[RESULT_KEY] = result
        from pytest_rollout.plugin.junit import eval_properties

        pyfuncitem.user_properties.extend(eval_properties(result))
        self._record(run)
        if not runner.verdict_passes(result.verdict, self.options.inconclusive, opts.recording):
            pytest.fail(failure_text(result), pytrace=False)
        return True

    def _eval_options(self, nodeid: str, spec: EvalSpec, layers: tuple[str, ...]) -> EvalOptions:
        import warnings

        from pytest_rollout.baselines.lookup import epochs_warning
        from pytest_rollout.evals.runner import EvalOptions

        state = self.state
        baseline, missing = None, None
        if spec.max_regression is not None and not self.options.full_budget:
            ctx = self._baselines()
            problem = None
            try:  # a damaged store: one line per eval, not a traceback
                baseline = ctx.lookup(nodeid, layers)
                missing = None if baseline is not None else ctx.missing(nodeid, layers)
                warning = epochs_warning(baseline, spec) if baseline is not None else None
                if warning:
                    warnings.warn(pytest.PytestWarning(warning), stacklevel=1)
            except RolloutError as exc:
                problem = f"rollout: {exc}"
            if problem:
                pytest.fail(problem, pytrace=False)
        return EvalOptions(
            seed=state.seed,
            family_size=max(state.eval_count, 1),
            correction=self.options.correction,
            baseline=baseline,
            missing_baseline=missing,
            recording=state.record_run is not None,
            full_budget=self.options.full_budget,
            failures=self.options.failures,
        )

    def _baselines(self) -> BaselineContext:
        """Where max_regression evals find baselines (computed once per process: workers too)."""
        import os

        state = self.state
        if state.baselines is None:
            from pytest_rollout.baselines.lookup import baseline_context

            opts = self.options
            try:
                state.baselines = baseline_context(
                    repo_root_or(opts),
                    opts.config,
                    opts.store,
                    drift=opts.drift,
                    release_base=state.diff.merge_base if state.diff is not None else None,
                    base_flag=opts.base,
                    fallback_base=opts.fallback_base,
                    env=os.environ,
                    pin=opts.baseline,
                )
            except RolloutError as exc:
                pytest.fail(f"rollout: {exc}", pytrace=False)
        baselines: BaselineContext = state.baselines
        return baselines

    def _record(self, run: EvalRun) -> None:
        state = self.state
        if state.record_run is None or (not run.records and run.result.verdict == "NO_BASELINE"):
            return
        from pytest_rollout.baselines.lookup import record_eval

        try:
            record_eval(state.record_run, run.result, run.records)
        except RolloutError as exc:
            pytest.fail(f"rollout: {exc}", pytrace=False)

    # -- results travel to the controller -------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        result = item.stash.get(RESULT_KEY, None)
        if result is not None and call.when == "call":
            # Rides on the report so xdist carries it to the controller.
            report.rollout_eval = result.model_dump(mode="json")  # type: ignore[attr-defined]
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "rollout_eval", None)
        if data and not self.options.is_worker:
            from pytest_rollout.models import EvalResult

            self.state.evals.append(EvalResult.model_validate(data))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        out = getattr(node, "workeroutput", {}) or {}
        self.state.deselected.update(out.get("rollout_deselected", {}))
        self.state.eval_count = max(self.state.eval_count, out.get("rollout_eval_count", 0))

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        state = self.config.stash.get(STATE_KEY, None)
        if state is None:
            return
        if state.baselines is not None:
            state.baselines.close()
        if self.options.is_worker:
            self.config.workeroutput["rollout_deselected"] = state.deselected  # type: ignore[attr-defined]
            self.config.workeroutput["rollout_eval_count"] = state.eval_count  # type: ignore[attr-defined]
        elif state.deselected:
            from pytest_rollout.plugin.junit import report_not_run

            report_not_run(self.config, state.deselected)


def _async_body(item: pytest.Function) -> dict[str, Any]:
    """The test function and the loop of an async eval (its stand-in is in ``item.obj``)."""
    body = item.stash.get(BODY_KEY, None)
    if body is None:
        return {}
    from pytest_rollout.evals.loops import test_loop

    try:
        return {"func": body, "on_loop": test_loop(item)}
    except RolloutError as exc:
        error = f"rollout: {item.nodeid}: {exc}"
    pytest.fail(error, pytrace=False)


def _deselect(config: pytest.Config, items: list[pytest.Item], state: SessionState, dropped: dict[str, str]) -> None:
    if not dropped:
        return
    config.hook.pytest_deselected(items=[it for it in items if it.nodeid in dropped])
    items[:] = [it for it in items if it.nodeid not in dropped]
    state.deselected.update(dropped)
