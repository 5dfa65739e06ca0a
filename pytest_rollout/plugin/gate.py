"""The gate plugin: judge the release once on the controller, hand it to xdist workers, fail closed.

It owns the session's ``SessionState`` (built in ``pytest_sessionstart``), the header lines, the
``rollout::gate`` item and the rule that a blocked release fails the run even when that item
did not run. Every decision is the gate stage's (``gate.chain``); this module only wires.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from pytest_rollout.errors import RolloutError
from pytest_rollout.plugin.options import Options
from pytest_rollout.plugin.release import GATE_NODE, STATE_KEY, SessionState

if TYPE_CHECKING:
    from pytest_rollout.gate.chain import GateResult


@contextmanager
def usage_errors() -> Iterator[None]:
    """A RolloutError is a usage error: ``ERROR: rollout: ...``, exit 4, no traceback."""
    try:
        yield
    except RolloutError as exc:
        import os
        import sys

        from pytest_rollout.diff.formats import printable
        from pytest_rollout.diff.redact import scrub_text
        from pytest_rollout.github import write_github_error

        message = printable(scrub_text(str(exc)))
        for line in write_github_error(message, os.environ):  # the job summary says why, too
            print(line, file=sys.stderr, flush=True)
        raise pytest.UsageError(f"rollout: {message}") from None


class GatePlugin:
    """``--rollout-gate``: the window, the decision, ``rollout::gate``; the session state for all."""

    def __init__(self, config: pytest.Config, options: Options) -> None:
        self.config = config
        self.options = options
        self.gate_ran = False

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.options.is_worker:
            wire = self.config.workerinput.get("rollout")  # type: ignore[attr-defined]
            state = SessionState.from_wire(wire) if wire else SessionState()
        else:
            with usage_errors():
                state = self._judge()
        self.config.stash[STATE_KEY] = state

    def _judge(self) -> SessionState:
        opts = self.options
        state = SessionState(gate=opts.gate, seed=opts.draw_seed(), forced_layers=opts.forced_layers)
        if opts.gate:
            res = _run_gate(opts)
            state.diff, state.decision = res.diff, res.decision
            # Markers may name layers of the base's settings or of the release's own.
            state.known_layers = tuple(dict.fromkeys((*res.loaded.settings.layer_names, *known_layers(opts))))
            state.notes += window_notes(res)
        if opts.forced_layers:
            from pytest_rollout.errors import SettingsError
            from pytest_rollout.evals.selection import unknown_forced

            message = unknown_forced(opts.forced_layers, known_layers(opts, state))
            if message:
                raise SettingsError(message)
        if opts.record:
            from pytest_rollout.baselines.lookup import begin_recording

            state.record_run = begin_recording(_repository(opts), opts.config, opts.store, state.seed)
        return state

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["rollout"] = self.config.stash[STATE_KEY].to_wire()

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        state = config.stash.get(STATE_KEY, None)
        if state is None or not self.options.scoped:
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

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        if self.options.gate:
            items.insert(0, GateItem.from_parent(session, name=GATE_NODE, nodeid=GATE_NODE))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.nodeid == GATE_NODE and report.when == "call":
            self.gate_ran = True

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """A blocked release fails the run even when rollout::gate itself did not run (--lf, -m ...)."""
        state = self.config.stash.get(STATE_KEY, None)
        if state is None or self.options.is_worker:
            return
        blocked = state.decision is not None and state.decision.status == "blocked"
        if blocked and not self.gate_ran and not self.config.option.collectonly:
            state.output_errors.append(
                f"rollout: the release is blocked but {GATE_NODE} did not run (deselected?): failing the run anyway"
            )
            if session.exitstatus in (0, 5):
                session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _run_gate(opts: Options) -> GateResult:
    from pytest_rollout.gate import chain

    return chain.run_gate(
        chain.Request(
            repo=_repository(opts),
            base=opts.base,
            fallback_base=opts.fallback_base,
            head=opts.head,
            config=opts.config,
            allow_bundle=opts.allow_bundle,
            per_commit=opts.per_commit,
            deployed=opts.deployed,
            fallback_deployed=opts.fallback_deployed,
            deploy=opts.deploy,
            store=opts.store,
        )
    )


def _repository(opts: Options) -> Any:
    from pytest_rollout.gate.invocation import find_repository

    return find_repository(opts.repo_hint)


def known_layers(opts: Options, state: SessionState | None = None) -> tuple[str, ...]:
    """The layer names markers may use: the judged settings' (set by the gate), else the work tree's."""
    if state is not None and state.known_layers is not None:
        return state.known_layers
    from pytest_rollout.settings import load_settings

    names = load_settings(repo_root_or(opts), opts.config).settings.layer_names
    if state is not None:
        state.known_layers = names
    return names


def repo_root_or(opts: Options) -> Any:
    """The git repository's root, or the start folder itself outside git (evals need no repository)."""
    from pytest_rollout.diff.refs import repo_root
    from pytest_rollout.errors import GitError

    try:
        return repo_root(opts.repo_hint)
    except GitError:
        return opts.repo_hint


def window_notes(res: GateResult) -> list[str]:
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


class GateBlocked(Exception):
    """The release moves coupled layers: the failure text is the reasons and the plan's steps."""


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

        raise GateBlocked("\n".join(decision_lines(decision, plan=False)))  # the summary prints the plan

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, GateBlocked):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[str, int | None, str]:
        return "rollout", None, GATE_NODE
