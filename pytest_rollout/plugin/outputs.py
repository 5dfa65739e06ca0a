"""What the session leaves behind, on the controller: the finished recording, the JSON report, the
GitHub step summary and annotations, and the ``rollout`` section of the terminal summary.

All text comes from ``report`` and ``github``; nothing is imported or written when the session
asked nothing of pytest-rollout.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from pytest_rollout.errors import RolloutError
from pytest_rollout.plugin.options import Options
from pytest_rollout.plugin.release import STATE_KEY, SessionState


class OutputsPlugin:
    """Finishes the recording and writes every output once, after the gate has failed closed."""

    def __init__(self, config: pytest.Config, options: Options) -> None:
        self.config = config
        self.options = options
        self.test_lines: dict[str, int] = {}  # eval nodeid -> 1-based line of its test
        self.recorded: str | None = None  # what --rollout-record stored, once the run is finished

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Each eval's test line, for its ``::error`` annotation (the location travels under xdist)."""
        if report.when == "call" and getattr(report, "rollout_eval", None) and not self.options.is_worker:
            line = report.location[1]
            if line is not None:
                self.test_lines[report.nodeid] = line + 1

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        state = self.config.stash.get(STATE_KEY, None)
        if state is None or self.options.is_worker:
            return
        try:
            if state.record_run is not None and session.exitstatus in (0, 1, 5):
                from pytest_rollout.baselines.recorded import finish_recording

                done = finish_recording(*state.record_run)
                self.recorded = done.line
                state.notes += done.warnings
        except (OSError, RolloutError) as exc:
            state.output_errors.append(f"rollout: {exc}")
        try:
            self._write(state)
        except (OSError, RolloutError) as exc:
            state.output_errors.append(f"rollout: {exc}")
        if state.output_errors and session.exitstatus in (0, 5):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _write(self, state: SessionState) -> None:
        if not (state.gate or state.evals or self.options.shard):
            return  # nothing was asked of us: import nothing, write nothing
        from pytest_rollout.evals.runner import finalize_family

        state.evals = finalize_family(state.evals)
        if self.options.report is not None or self.options.html is not None:
            self._write_reports(state)
        if state.diff is not None or state.evals:
            from pytest_rollout.github import write_github_outputs

            state.annotations = write_github_outputs(
                state.diff,
                state.decision,
                state.evals,
                os.environ,
                self.options.inconclusive == "pass",
                notes=state.notes,
                errors=state.output_errors,
                recorded=self.recorded,
                test_lines=self.test_lines,
            )

    def _write_reports(self, state: SessionState) -> None:
        """The JSON report and the HTML page: one document, two forms."""
        from pytest_rollout.report import build_report, report_json

        shard = None
        if self.options.shard is not None:
            from pytest_rollout.models import Shard

            index, count = self.options.shard
            shard = Shard(index=index, count=count, family=state.eval_count)
        report = build_report(state.diff, state.decision, state.evals, _deselected(state), shard)
        path = self.options.report
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(report_json(report), encoding="utf-8")
        if self.options.html is not None:
            from pytest_rollout.html import write_html

            write_html(report, self.options.html, self.options.inconclusive == "pass")

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        state = self.config.stash.get(STATE_KEY, None)
        if (
            state is None
            or self.options.is_worker
            or not (state.gate or state.evals or state.deselected or state.output_errors)
        ):
            return
        from pytest_rollout.diff.redact import scrub_text
        from pytest_rollout.report import eval_lines, gate_text

        tr = terminalreporter
        tr.write_sep("=", "rollout")
        if state.diff is not None:
            for line in gate_text(state.diff, state.decision):
                tr.write_line(line)
        for line in eval_lines(state.evals, _deselected(state), verbose=self.config.option.verbose > 0):
            tr.write_line(line)
        if state.evals:
            tr.write_line(f"seed {state.seed}: replay this run with --rollout-seed {state.seed}")
        if self.recorded:
            tr.write_line(scrub_text(self.recorded))
        for line in state.annotations:
            tr.write_line(line)
        for line in state.notes:
            tr.write_line(scrub_text(f"warning: {line}"), yellow=True)
        for line in state.output_errors:
            tr.write_line(scrub_text(line), red=True, bold=True)


def _deselected(state: SessionState) -> list[Any]:
    from pytest_rollout.models import Deselected

    return [Deselected(nodeid=n, reason=r) for n, r in sorted(state.deselected.items())]
