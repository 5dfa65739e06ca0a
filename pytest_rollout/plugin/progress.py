"""ProgressPlugin: what a long eval shows while it runs (``pytest_rollout.progress`` has the text).

``live``: around an eval's call, the test body is wrapped so each finished trial updates one
terminal line (rewritten in place, at most every ``_EVERY`` seconds, and once at the end). The
wrapper only counts: it returns what the body returns and raises what it raises, so the runner
sees the same trials. ``lines``: one line per finished eval, written on the controller from the
eval's report (so it works under xdist too).
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Generator
from typing import Any

import pytest

from pytest_rollout.plugin.options import Options
from pytest_rollout.plugin.release import BODY_KEY, SPEC_KEY

_EVERY = 0.2  # seconds between two rewrites of the live line


class ProgressPlugin:
    def __init__(self, config: pytest.Config, options: Options) -> None:
        self.config = config
        self.options = options
        self.mode: str | None = None  # resolved once the terminal reporter exists
        self.live_shown: set[str] = set()

    def _mode(self) -> str:
        if self.mode is None:
            from pytest_rollout.progress import resolve_mode

            tr = self.config.pluginmanager.get_plugin("terminalreporter")
            self.mode = (
                "off"
                if tr is None
                else resolve_mode(
                    self.options.progress,
                    isatty=bool(tr.isatty()),
                    verbosity=self.config.get_verbosity(),
                    env=os.environ,
                    is_worker=self.options.is_worker,
                )
            )
        return self.mode

    @pytest.hookimpl(wrapper=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Generator[None, object, object]:
        spec = pyfuncitem.stash.get(SPEC_KEY, None)
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        if spec is None or tr is None or self._mode() != "live":
            return (yield)
        from pytest_rollout.progress import Progress

        progress = Progress(pyfuncitem.nodeid, spec.trials_budget, spec.criterion)
        show = _LiveLine(tr, progress, self.config.get_terminal_writer().fullwidth)
        in_stash = BODY_KEY in pyfuncitem.stash
        body = pyfuncitem.stash[BODY_KEY] if in_stash else pyfuncitem.obj
        counted = _counting(body, progress, show, spec.errors)
        if in_stash:
            pyfuncitem.stash[BODY_KEY] = counted
        else:
            pyfuncitem.obj = counted
        tr.ensure_newline()
        try:
            return (yield)
        finally:
            if in_stash:
                pyfuncitem.stash[BODY_KEY] = body
            else:
                pyfuncitem.obj = body
            show(final=True)
            self.live_shown.add(pyfuncitem.nodeid)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "rollout_eval", None)
        if not data or report.when != "call" or self._mode() == "off" or report.nodeid in self.live_shown:
            return
        from pytest_rollout.diff.redact import scrub_text
        from pytest_rollout.progress import finished_line

        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            tr.write_line(scrub_text(finished_line(data, report.duration)))


class _LiveLine:
    """Rewrites the eval's progress line, at most every ``_EVERY`` seconds."""

    def __init__(self, tr: Any, progress: Any, width: int) -> None:
        self.tr, self.progress, self.width = tr, progress, width
        self.last = -_EVERY

    def __call__(self, final: bool = False) -> None:
        from pytest_rollout.diff.redact import scrub_text

        now = self.progress.clock()
        with self.progress.lock:
            if not final and now - self.last < _EVERY:
                return
            self.last = now
        width = max(self.width - 1, 20)
        self.tr.rewrite(scrub_text(self.progress.line(final))[:width], erase=True)


def _counting(
    body: Callable[..., Any], progress: Any, show: Callable[..., None], errors: tuple[type[BaseException], ...]
) -> Callable[..., Any]:
    """``body`` that tells ``progress`` how each trial ended; behaviour unchanged."""

    def outcome(kwargs: dict[str, Any], exc: BaseException | None) -> None:
        if exc is None:
            trial = kwargs.get("trial")
            score = getattr(trial, "recorded_score", None)
            progress.add(score if score is not None else 1.0)
        elif isinstance(exc, Exception) and not isinstance(exc, errors) or isinstance(exc, AssertionError):
            progress.add(0.0)
        elif isinstance(exc, Exception):
            progress.add(None)
        show()

    if inspect.iscoroutinefunction(body):

        @functools.wraps(body)
        async def counted_async(*args: Any, **kwargs: Any) -> Any:
            try:
                result = await body(*args, **kwargs)
            except BaseException as exc:
                outcome(kwargs, exc)
                raise
            outcome(kwargs, None)
            return result

        return counted_async

    @functools.wraps(body)
    def counted(*args: Any, **kwargs: Any) -> Any:
        try:
            result = body(*args, **kwargs)
        except BaseException as exc:
            outcome(kwargs, exc)
            raise
        outcome(kwargs, None)
        return result

    return counted
