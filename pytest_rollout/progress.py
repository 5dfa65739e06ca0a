"""Progress of a running eval, as one line of text: trials done, the running estimate, and what
is left at most (the sequential test may stop sooner) with the time it would take at the pace
so far. Pure Python: the plugin (``plugin/progress.py``) feeds it and writes the lines.

Modes (``--rollout-progress``, ini ``rollout_progress``): ``live`` rewrites one line per eval on
the terminal while its trials run; ``lines`` prints one line per eval when it finishes (CI logs,
xdist); ``off``. ``auto`` (the default) is ``live`` on a terminal, ``lines`` under CI (``CI`` or
``GITHUB_ACTIONS`` set to true) when the output is not a terminal, and ``off`` otherwise or
under ``-q``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

MODES = ("auto", "live", "lines", "off")
_LABELS = {"pass_rate": "pass rate", "min_score": "mean score"}


def resolve_mode(mode: str, *, isatty: bool, verbosity: int, env: Mapping[str, str], is_worker: bool) -> str:
    """The mode this process uses: ``live``, ``lines`` or ``off``."""
    if is_worker:
        return "off"  # a worker's terminal is not the user's; the controller prints the lines
    if mode != "auto":
        return mode
    if verbosity < 0:
        return "off"
    if isatty:
        return "live"
    ci = any(env.get(name, "").lower() in ("1", "true") for name in ("CI", "GITHUB_ACTIONS"))
    return "lines" if ci else "off"


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Progress:
    """One eval's running tally; ``add`` may be called from trial threads."""

    def __init__(self, nodeid: str, budget: int, criterion: str | None, clock: Any = time.monotonic) -> None:
        self.nodeid = nodeid
        self.budget = budget
        self.label = _LABELS.get(criterion or "", "mean")
        self.clock = clock
        self.started = clock()
        self.done = 0
        self.errors = 0
        self.total = 0.0
        self.lock = threading.Lock()

    def add(self, value: float | None) -> None:
        """A finished trial: its value in [0, 1], or None for an error trial."""
        with self.lock:
            self.done += 1
            if value is None:
                self.errors += 1
            else:
                self.total += value

    def line(self, final: bool = False) -> str:
        """``rollout: t.py::test_x  37/300 trials  pass rate 0.84  at most 263 left (~1m05s)``; the
        final line ends with ``done in 12s`` instead."""
        with self.lock:
            done, errors, total = self.done, self.errors, self.total
        valued = done - errors
        estimate = f"{self.label} {total / valued:.2f}" if valued else f"{self.label} -"
        parts = [f"rollout: {self.nodeid}", f"{done}/{self.budget} trials", estimate]
        if errors:
            parts.append(f"{errors} error(s)")
        left = max(self.budget - done, 0)
        if final:
            parts.append(f"done in {duration(self.clock() - self.started)}")
        elif done and left:
            pace = (self.clock() - self.started) / done
            parts.append(f"at most {left} left (~{duration(pace * left)})")
        return "  ".join(parts)


def finished_line(result: Mapping[str, Any], seconds: float) -> str:
    """One line per finished eval (CI logs): ``rollout: t.py::test_x  PASS  n=142/300  estimate 0.85  (12s)``."""
    parts = [
        f"rollout: {result.get('nodeid')}",
        str(result.get("verdict")),
        f"n={result.get('n')}/{result.get('budget')}",
    ]
    if result.get("estimate") is not None:
        parts.append(f"estimate {result['estimate']:.2f}")
    if result.get("change") is not None:
        parts.append(f"change {result['change']:+.2f}")
    if result.get("stopped_early"):
        parts.append("stopped early")
    parts.append(f"({duration(seconds)})")
    return "  ".join(parts)
