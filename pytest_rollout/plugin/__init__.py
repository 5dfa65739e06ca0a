"""pytest11 entry point: options, ini keys, markers, and the wiring of the steps.

This module only wires: every decision is made by a step module (pipeline,
selection, evaluation, store, report). It imports nothing heavy at load time,
so a run without ``--rollout-gate`` and without evals costs next to nothing.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_rollout.errors import RolloutError
from pytest_rollout.plugin.release import SessionState

if TYPE_CHECKING:
    from pytest_rollout.evals.markers import EvalSpec
    from pytest_rollout.models import EvalResult  # noqa: F401 (named in RESULT_KEY's type)

PLUGIN_NAME = "rollout-session"
GATE_NODE = "rollout::gate"


STATE_KEY = pytest.StashKey[SessionState]()
SPEC_KEY = pytest.StashKey["EvalSpec"]()
LAYERS_KEY = pytest.StashKey["tuple[str, ...]"]()
RESULT_KEY = pytest.StashKey["EvalResult"]()


# --- options ---------------------------------------------------------------


def _layers_list(value: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list of layers, e.g. prompt,model")
    return names


def _seed(value: str) -> int:
    try:
        seed = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer seed") from None
    if not 0 <= seed < 2**63:
        raise argparse.ArgumentTypeError(f"{value!r}: the seed must be between 0 and 2**63-1")
    return seed


_OUR_MARKS = frozenset({"eval", "layer"})
_PATH_KEYS = frozenset({"rollout_config", "rollout_report", "rollout_store"})
_CHOICES = {
    "rollout_inconclusive": ("fail", "pass"),
    "rollout_correction": ("bonferroni", "sidak", "none"),
    "rollout_missing_baseline": ("fail", "skip"),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rollout", "pytest-rollout: sequenced releases of AI systems")
    group.addoption(
        "--rollout-gate",
        action="store_true",
        default=None,
        dest="rollout_gate",
        help="Diff the AI config between base and head, block coupled releases, run only moved layers' evals",
    )
    group.addoption(
        "--rollout-base",
        dest="rollout_base",
        metavar="REF",
        help="Base ref of the release (default: settings `base`, GITHUB_BASE_REF, upstream, origin/HEAD)",
    )
    group.addoption(
        "--rollout-head", dest="rollout_head", metavar="REF", help="Head ref of the release (default: HEAD)"
    )
    group.addoption(
        "--rollout-config",
        dest="rollout_config",
        metavar="PATH",
        help="Settings file (default: rollout.yaml, then [tool.pytest-rollout] in pyproject.toml)",
    )
    group.addoption(
        "--rollout-allow-bundle",
        dest="rollout_allow_bundle",
        metavar="REASON",
        help="Let a release that moves several coupled layers through, recording REASON",
    )
    group.addoption(
        "--rollout-per-commit",
        action="store_true",
        default=None,
        dest="rollout_per_commit",
        help="Also judge each commit of the release on its own",
    )
    group.addoption(
        "--rollout-report",
        dest="rollout_report",
        metavar="PATH",
        help="Write the JSON report (changes, decision, eval verdicts) to PATH",
    )
    group.addoption(
        "--rollout-layers",
        dest="rollout_layers",
        type=_layers_list,
        metavar="A,B",
        help="Run the evals of these layers, whatever moved",
    )
    group.addoption(
        "--rollout-seed",
        dest="rollout_seed",
        type=_seed,
        metavar="INT",
        help="Seed for trial seeds and case order (default: random, printed in the header)",
    )
    group.addoption(
        "--rollout-inconclusive",
        dest="rollout_inconclusive",
        choices=_CHOICES["rollout_inconclusive"],
        help="How an eval that spent its budget undecided counts (default: fail)",
    )
    group.addoption(
        "--rollout-correction",
        dest="rollout_correction",
        choices=_CHOICES["rollout_correction"],
        help="Family-wise false-FAIL control across evals (default: bonferroni)",
    )
    group.addoption(
        "--rollout-store",
        dest="rollout_store",
        metavar="PATH",
        help="Baseline store (default: .rollout/store.sqlite at the repo root)",
    )
    group.addoption(
        "--rollout-record",
        action="store_true",
        default=None,
        dest="rollout_record",
        help="Record this session's eval outcomes as the baseline of HEAD",
    )
    group.addoption(
        "--rollout-missing-baseline",
        dest="rollout_missing_baseline",
        choices=_CHOICES["rollout_missing_baseline"],
        help="What a max_regression eval without a baseline does (default: fail)",
    )
    group.addoption(
        "--rollout-drift",
        action="store_true",
        default=None,
        dest="rollout_drift",
        help="Run max_regression evals against the latest baseline with HEAD's fingerprints",
    )

    parser.addini("rollout_gate", "Turn the gate on (as --rollout-gate)", type="bool", default=False)
    parser.addini("rollout_base", "Base ref of the release (as --rollout-base)", default="")
    parser.addini("rollout_config", "Settings file (as --rollout-config)", default="")
    parser.addini("rollout_per_commit", "Also judge each commit (as --rollout-per-commit)", type="bool", default=False)
    parser.addini("rollout_report", "JSON report path (as --rollout-report)", default="")
    parser.addini("rollout_seed", "Seed for trials (as --rollout-seed)", default="")
    parser.addini("rollout_inconclusive", "fail (default) or pass", default="fail")
    parser.addini("rollout_correction", "bonferroni (default), sidak or none", default="bonferroni")
    parser.addini("rollout_store", "Baseline store path (as --rollout-store)", default="")
    parser.addini("rollout_missing_baseline", "fail (default) or skip", default="fail")


def setting(config: pytest.Config, name: str) -> Any:
    """CLI value, else ini value (pytest-timeout's precedence); choices are checked."""
    value = config.getoption(name, default=None)
    if value is None:
        try:
            value = config.getini(name)
        except ValueError:
            return None
        value = value or None
        if value and name in _PATH_KEYS and not Path(value).is_absolute():
            # As pytest does for path ini keys: relative to the ini file, not to the cwd.
            value = str((config.inipath.parent if config.inipath else config.rootpath) / value)
    choices = _CHOICES.get(name)
    if choices and value is not None and value not in choices:
        raise pytest.UsageError(f"ini {name} = {value!r}: expected one of {', '.join(choices)}")
    return value


# --- configure ---------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "layer(*names): the AI-system layers this eval measures (infra, model, params, context, prompt, tools, "
        "or the settings' layers); under --rollout-gate it runs only when one of them moved",
    )
    config.addinivalue_line(
        "markers",
        "eval(trials, pass_rate=None, min_score=None, max_regression=None, confidence=0.95, margin=0.05, "
        "power=None, cases=None, epochs=1, concurrency=1, timeout=None, max_error_rate=0.1): run the test as "
        "repeated trials with a sequential statistical verdict (PASS, FAIL, INCONCLUSIVE, ERROR)",
    )
    config.pluginmanager.register(RolloutPlugin(config), PLUGIN_NAME)


@pytest.fixture
def trial(request: pytest.FixtureRequest) -> Any:
    """The current trial of an ``@pytest.mark.eval`` test: index, seed, case, score(x).

    The eval runner calls the test body once per trial with a fresh ``Trial``;
    this value only stands in while pytest resolves fixtures.
    """
    if SPEC_KEY not in request.node.stash:
        raise pytest.UsageError(
            f"{request.node.nodeid}: the `trial` fixture needs @pytest.mark.eval(trials=..., pass_rate=...) on the test"
        )
    return _TrialStandIn(request.node.nodeid)


class _TrialStandIn:
    """What a *fixture* that requests ``trial`` gets: fixtures are set up once per eval,
    so one value would serve every trial and the statistics would be meaningless."""

    def __init__(self, nodeid: str) -> None:
        self._nodeid = nodeid

    def __getattr__(self, name: str) -> Any:
        raise pytest.UsageError(
            f"{self._nodeid}: `trial` is only valid inside the eval's test body: fixtures are set up once per "
            "eval, so a fixture that reads trial.seed would see one value for every trial; "
            "pass the trial from the test body instead (e.g. make the fixture a factory)"
        )


def _raise_usage(exc: RolloutError) -> None:
    raise pytest.UsageError(f"rollout: {exc}") from None


class RolloutPlugin:
    """Per-session work: the gate once on the controller, evals on whoever runs them."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.is_worker = hasattr(config, "workerinput")
        self.gate = bool(setting(config, "rollout_gate"))
        self.gate_ran = False
        self.saw_spec = False  # no eval collected: skip the per-item scans
        for name in _CHOICES:
            setting(config, name)  # a typo in an ini choice is a usage error now, not when an eval runs
        report = setting(config, "rollout_report")
        self.report_path = Path(report).resolve() if report else None  # fixed now: tests may chdir
        if self.report_path is not None and not self.is_worker:
            self._check_writable(report, self.report_path)

    @staticmethod
    def _check_writable(given: str, path: Path) -> None:
        """Fail before the evals spend their budget, not after."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise pytest.UsageError(f"rollout: --rollout-report {given}: cannot create its folder ({exc})") from None
        if path.is_dir() or not os.access(path.parent, os.W_OK):
            raise pytest.UsageError(f"rollout: --rollout-report {given}: not a writable file path")

    # -- the gate, computed once per session on the controller -------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.is_worker:
            wire = self.config.workerinput.get("rollout")  # type: ignore[attr-defined]
            state = SessionState.from_wire(wire) if wire else SessionState()
        else:
            state = self._controller_state()
        self.config.stash[STATE_KEY] = state

    def _controller_state(self) -> SessionState:
        forced = self.config.getoption("rollout_layers", default=None)
        state = SessionState(gate=self.gate, seed=self._seed(), forced_layers=forced)
        if self.config.getoption("rollout_base", default=None) == "":
            raise pytest.UsageError(
                "rollout: --rollout-base is empty (an unset CI variable?): name a ref, or leave it out"
            )
        if self.gate:
            from pytest_rollout.gate import chain as pipeline

            req = pipeline.Request(
                repo=self.config.rootpath,
                base=self.config.getoption("rollout_base", default=None),
                fallback_base=setting(self.config, "rollout_base"),
                head=self.config.getoption("rollout_head", default=None),
                config=setting(self.config, "rollout_config"),
                allow_bundle=self.config.getoption("rollout_allow_bundle", default=None),
                per_commit=bool(setting(self.config, "rollout_per_commit")),
            )
            try:
                res = pipeline.run_gate(req)
                state.diff, state.decision = res.diff, res.decision
                # Markers may name layers of the base's settings or of the release's own.
                state.known_layers = tuple(dict.fromkeys((*res.loaded.settings.layer_names, *self._known_layers())))
                state.notes += _window_notes(res)
            except RolloutError as exc:
                _raise_usage(exc)
        if forced:
            try:
                known = self._known_layers(state)
            except RolloutError as exc:
                _raise_usage(exc)
            unknown = [name for name in forced if name not in known]
            if unknown:
                raise pytest.UsageError(
                    f"rollout: --rollout-layers: unknown layer {unknown[0]!r}; known layers: {', '.join(known)}"
                )
        if self.config.getoption("rollout_record", default=None):
            from pytest_rollout.baselines.lookup import begin_recording

            try:
                state.record_run = begin_recording(
                    self.config.rootpath,
                    setting(self.config, "rollout_config"),
                    setting(self.config, "rollout_store"),
                    state.seed,
                )
            except RolloutError as exc:
                _raise_usage(exc)
        return state

    def _seed(self) -> int:
        value = setting(self.config, "rollout_seed")
        if value is None:
            return int.from_bytes(os.urandom(4), "big")
        try:
            return _seed(str(value))
        except argparse.ArgumentTypeError as exc:
            raise pytest.UsageError(f"rollout_seed: {exc}") from None

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["rollout"] = self.config.stash[STATE_KEY].to_wire()

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        state = config.stash.get(STATE_KEY, None)
        if state is None or not (state.gate or state.forced_layers is not None):
            return []
        lines = []
        if state.diff is not None:
            d = state.diff
            moved = ", ".join(d.layers_changed) or "none"
            lines.append(f"rollout: {d.merge_base or d.base:.7}..{d.head:.7}, moved: {moved}")
        if state.forced_layers is not None:
            lines.append(f"rollout: layers forced by --rollout-layers: {', '.join(state.forced_layers)}")
        lines.append(f"rollout: seed {state.seed} (replay with --rollout-seed {state.seed})")
        lines += [f"rollout: warning: {note}" for note in state.notes]
        return lines

    # -- collection: validate markers, add the gate item, select evals ------
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
        """Parse the item's eval/layer markers; a bad one is a collection error of its module."""
        layer_marks = [m.args for m in item.iter_markers("layer")]
        eval_mark = item.get_closest_marker("eval")
        if not layer_marks and eval_mark is None:
            return
        from pytest_rollout.evals.markers import parse_eval_marker, parse_layer_markers

        if layer_marks:
            item.stash[LAYERS_KEY] = parse_layer_markers(layer_marks, self._known_layers(), where=item.nodeid)
        if eval_mark is not None:
            item.stash[SPEC_KEY] = parse_eval_marker(eval_mark.args, eval_mark.kwargs, where=item.nodeid)
            self.saw_spec = True

    def _known_layers(self, state: SessionState | None = None) -> tuple[str, ...]:
        state = state or self.config.stash.get(STATE_KEY, None)
        if state is not None and state.known_layers is not None:
            return state.known_layers
        from pytest_rollout.settings import load_settings

        loaded = load_settings(_repo_root_or(self.config.rootpath), setting(self.config, "rollout_config"))
        if state is not None:
            state.known_layers = loaded.settings.layer_names
        return loaded.settings.layer_names

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        state = config.stash[STATE_KEY]
        if config.getoption("rollout_drift", default=None):
            self._drift_only(config, items, state)
        if state.gate or state.forced_layers is not None:
            from pytest_rollout.evals.selection import select

            keep, dropped = select(
                [(it.nodeid, it.stash.get(LAYERS_KEY, None), SPEC_KEY in it.stash) for it in items],
                moved=state.moved,
                blocked=bool(state.decision and state.decision.status == "blocked"),
                because=state.not_selected_because,
            )
            if dropped:
                gone = set(dropped)
                config.hook.pytest_deselected(items=[it for it in items if it.nodeid in gone])
                items[:] = [it for it in items if it.nodeid not in gone]
                state.deselected.update(dropped)
        state.eval_count = sum(1 for it in items if SPEC_KEY in it.stash) if self.saw_spec else 0
        if state.eval_count:
            self._warn_small_budgets(items, state.eval_count)
        if state.gate:
            items.insert(0, GateItem.from_parent(session, name=GATE_NODE, nodeid=GATE_NODE))

    def _drift_only(self, config: pytest.Config, items: list[pytest.Item], state: SessionState) -> None:
        reason = "--rollout-drift runs only max_regression evals"
        dropped = [it for it in items if SPEC_KEY in it.stash and it.stash[SPEC_KEY].max_regression is None]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [it for it in items if it not in dropped]
            state.deselected.update({it.nodeid: reason for it in dropped})

    def _warn_small_budgets(self, items: list[pytest.Item], family_size: int) -> None:
        from pytest_rollout.evals.runner import budget_warning

        correction = setting(self.config, "rollout_correction") or "bonferroni"
        for item in items:
            spec = item.stash.get(SPEC_KEY, None)
            message = budget_warning(spec, family_size, correction) if spec is not None else None
            if message:
                item.warn(pytest.PytestWarning(message))

    # -- running evals --------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        spec = pyfuncitem.stash.get(SPEC_KEY, None)
        if spec is None:
            return None
        from pytest_rollout.evals import runner as evaluation

        layers = pyfuncitem.stash.get(LAYERS_KEY, ())
        opts = self._eval_options(pyfuncitem.nodeid, spec, layers)
        policy = setting(self.config, "rollout_missing_baseline") or "fail"
        if opts.missing_baseline and not opts.recording and (policy == "fail" or spec.criterion is None):
            if policy == "skip":
                pytest.skip(opts.missing_baseline)
            run = evaluation.EvalRun(evaluation.no_baseline_result(pyfuncitem.nodeid, layers, spec, opts), [])
        else:
            run = evaluation.run_eval_item(pyfuncitem, spec, layers, opts)
        result = run.result
        pyfuncitem.stash[RESULT_KEY] = result
        pyfuncitem.user_properties.extend(
            (f"rollout_{k}", v)
            for k, v in (
                ("verdict", result.verdict),
                ("estimate", result.estimate),
                ("interval", result.interval),
                ("n", result.n),
            )
        )
        self._record(run)
        if not self._acceptable(result.verdict, opts):
            pytest.fail(evaluation.failure_text(result), pytrace=False)
        return True

    def _acceptable(self, verdict: str, opts: Any) -> bool:
        if verdict == "PASS":
            return True
        if verdict == "INCONCLUSIVE":
            return bool(setting(self.config, "rollout_inconclusive") == "pass")
        return verdict == "NO_BASELINE" and bool(opts.recording)  # recording the first baseline

    def _eval_options(self, nodeid: str, spec: EvalSpec, layers: tuple[str, ...]) -> Any:
        from pytest_rollout.evals.runner import EvalOptions

        state = self.config.stash[STATE_KEY]
        baseline, missing = None, None
        if spec.max_regression is not None:
            ctx = self._baselines()
            baseline = ctx.lookup(nodeid, layers)
            missing = None if baseline is not None else ctx.missing(nodeid, layers)
        return EvalOptions(
            seed=state.seed,
            family_size=max(state.eval_count, 1),
            correction=setting(self.config, "rollout_correction") or "bonferroni",
            baseline=baseline,
            missing_baseline=missing,
            recording=state.record_run is not None,
        )

    def _baselines(self) -> Any:
        """Where max_regression evals find baselines (computed once per process: workers too)."""
        state = self.config.stash[STATE_KEY]
        if state.baselines is None:
            from pytest_rollout.baselines.lookup import baseline_context

            try:
                state.baselines = baseline_context(
                    _repo_root_or(self.config.rootpath),
                    setting(self.config, "rollout_config"),
                    setting(self.config, "rollout_store"),
                    drift=bool(self.config.getoption("rollout_drift", default=None)),
                    release_base=state.diff.merge_base if state.diff is not None else None,
                    base_flag=self.config.getoption("rollout_base", default=None),
                    fallback_base=setting(self.config, "rollout_base"),
                    env=os.environ,
                )
            except RolloutError as exc:
                pytest.fail(f"rollout: {exc}", pytrace=False)
        return state.baselines

    def _record(self, run: Any) -> None:
        state = self.config.stash[STATE_KEY]
        if state.record_run is None or (not run.records and run.result.verdict == "NO_BASELINE"):
            return
        from pytest_rollout.baselines.lookup import record_eval

        try:
            record_eval(state.record_run, run.result, run.records)
        except RolloutError as exc:
            pytest.fail(f"rollout: {exc}", pytrace=False)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        result = item.stash.get(RESULT_KEY, None)
        if result is not None and call.when == "call":
            # Rides on the report so xdist carries it to the controller (STYLE.md §3.7).
            report.rollout_eval = result.model_dump(mode="json")  # type: ignore[attr-defined]
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.nodeid == GATE_NODE and report.when == "call":
            self.gate_ran = True
        data = getattr(report, "rollout_eval", None)
        if data and not self.is_worker:
            from pytest_rollout.models import EvalResult

            self.config.stash[STATE_KEY].evals.append(EvalResult.model_validate(data))

    # -- xdist: deselection reasons come back from workers ---------------------
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        state = self.config.stash.get(STATE_KEY, None)
        if state is None:
            return
        if state.baselines is not None:
            state.baselines.close()
        if self.is_worker:
            self.config.workeroutput["rollout_deselected"] = state.deselected  # type: ignore[attr-defined]
            return
        self._fail_closed(session, state)
        try:
            if state.record_run is not None and session.exitstatus in (0, 1, 5):
                from pytest_rollout.baselines.store import Store

                with Store(state.record_run[0]) as store:
                    store.finish_run(state.record_run[1])
            self._write_outputs(state)
        except (OSError, RolloutError) as exc:
            state.output_errors.append(f"rollout: {exc}")
            if session.exitstatus in (0, 5):
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _fail_closed(self, session: pytest.Session, state: SessionState) -> None:
        """A blocked release fails the run even when rollout::gate itself did not run (--lf, -m ...)."""
        blocked = state.decision is not None and state.decision.status == "blocked"
        if blocked and not self.gate_ran and not self.config.option.collectonly:
            state.output_errors.append(
                f"rollout: the release is blocked but {GATE_NODE} did not run (deselected?): failing the run anyway"
            )
            if session.exitstatus in (0, 5):
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        out = getattr(node, "workeroutput", {}) or {}
        self.config.stash[STATE_KEY].deselected.update(out.get("rollout_deselected", {}))

    def _write_outputs(self, state: SessionState) -> None:
        if not (state.gate or state.evals):
            return  # nothing was asked of us: import nothing, write nothing
        from pytest_rollout.evals.runner import finalize_family

        state.evals = finalize_family(state.evals)
        path = self.report_path
        if path is not None and (state.gate or state.evals):
            from pytest_rollout.report import build_report, report_json

            report = build_report(state.diff, state.decision, state.evals, _deselected(state))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(report_json(report), encoding="utf-8")
        if state.diff is not None:
            from pytest_rollout.github import write_github_outputs

            state.annotations = write_github_outputs(state.diff, state.decision, state.evals, os.environ)

    # -- reporting ---------------------------------------------------------------
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        state = self.config.stash.get(STATE_KEY, None)
        if (
            state is None
            or self.is_worker
            or not (state.gate or state.evals or state.deselected or state.output_errors)
        ):
            return
        from pytest_rollout.report import eval_lines, gate_text

        tr = terminalreporter
        tr.write_sep("=", "rollout")
        if state.diff is not None:
            for line in gate_text(state.diff, state.decision):
                tr.write_line(line)
        for line in eval_lines(state.evals, _deselected(state)):
            tr.write_line(line)
        if state.evals:
            tr.write_line(f"seed {state.seed}: replay this run with --rollout-seed {state.seed}")
        for line in state.annotations:
            tr.write_line(line)
        for line in state.notes:
            tr.write_line(f"warning: {line}", yellow=True)
        for line in state.output_errors:
            tr.write_line(line, red=True, bold=True)


def _window_notes(res: Any) -> list[str]:
    """What the user should know about the window the gate judged."""
    from pytest_rollout.baselines.fingerprints import dirty_config

    notes = []
    if res.window.merge_base == res.window.head:
        notes.append(
            f"the release window is empty: base {res.window.base_label} already contains head "
            f"{res.window.head[:10]}, so nothing is judged and layer-scoped evals do not run "
            "(after a merge, pass --rollout-base <the previous commit>)"
        )
    dirty = dirty_config(res.root, res.loaded.settings)
    if dirty:
        notes.append(
            f"uncommitted changes to watched config ({', '.join(dirty[:3])}) are not part of the release "
            "judged, but the evals run against them: commit them first"
        )
    return notes


def _deselected(state: SessionState) -> list[Any]:
    from pytest_rollout.models import Deselected

    return [Deselected(nodeid=n, reason=r) for n, r in sorted(state.deselected.items())]


def _repo_root_or(path: Path) -> Path:
    """The git repository's root, or ``path`` itself outside git (evals need no repository)."""
    from pytest_rollout.diff.refs import repo_root
    from pytest_rollout.errors import GitError

    try:
        return repo_root(path)
    except GitError:
        return path


class GateBlocked(Exception):
    """The release moves coupled layers: the failure text is the reasons and the plan."""


class GateItem(pytest.Item):
    """``rollout::gate``: the gate's decision as one test, so it shows in summaries and junitxml."""

    def runtest(self) -> None:
        state = self.config.stash[STATE_KEY]
        decision = state.decision
        if decision is not None:
            self.user_properties.append(("rollout_decision", decision.status))
            if decision.override is not None:
                self.user_properties.append(("rollout_override", decision.override.reason))
        if decision is None or decision.status != "blocked":
            return
        from pytest_rollout.report import decision_lines

        raise GateBlocked("\n".join(decision_lines(decision)))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, GateBlocked):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[str, int | None, str]:
        return "rollout", None, GATE_NODE
