"""What a trial's outcome is worth: the one rule the runner, its report and the store share.

A trial that recorded a score is worth its score; otherwise a pass is 1.0 and a fail 0.0; an error
trial carries no value (it is not an outcome). No imports: the store and the CLI use it too.
"""

from __future__ import annotations


def trial_value(outcome: str, score: float | None) -> float | None:
    """The trial's value on [0, 1], or None for an error trial."""
    if outcome == "error":
        return None
    if score is not None:
        return float(score)
    return 1.0 if outcome == "pass" else 0.0
