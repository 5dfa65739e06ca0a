"""Seeds: the session seed as users type it, each trial's seed and the seeded order of an eval's cases.

sha256 over the parts, never ``hash()``: the same seed in every process, Python version and
``PYTHONHASHSEED``, so a run replays from ``--rollout-seed`` alone (serial, threaded, xdist).
"""

from __future__ import annotations

import argparse
import hashlib
import random
from collections.abc import Callable, Collection, Sequence

from pytest_rollout.evals.markers import Case

#: Seeds are stored as SQLite integers: signed 64 bits.
SEED_LIMIT = 2**63


def parse_seed(value: str) -> int:
    """``--rollout-seed``, ``rollout_seed`` and ``attribute --seed`` (an argparse ``type=``): ``[0, 2**63)``."""
    try:
        seed = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer seed") from None
    if not 0 <= seed < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"{value!r}: the seed must be between 0 and 2**63-1")
    return seed


def _derive(*parts: object) -> int:
    """32 bits of sha256 over the parts: unlike ``hash()``, the same in every process and version."""
    text = "\0".join(str(part) for part in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "big")


def trial_seed(session_seed: int, nodeid: str, index: int) -> int:
    """The seed of trial ``index`` of ``nodeid``; ``0 <= seed < 2**32``."""
    return _derive("trial", session_seed, nodeid, index)


def trial_seeder(session_seed: int, nodeid: str) -> Callable[[int], int]:
    """``trial_seed(session_seed, nodeid, index)`` as a function of ``index``, for the trial loop.

    The same bytes go through sha256 (the parts before the index are hashed once and the state
    copied per trial), so the seeds are identical; it costs about a quarter of ``trial_seed``.
    """
    prefix = hashlib.sha256(f"trial\0{session_seed}\0{nodeid}\0".encode())
    copy, from_bytes = prefix.copy, int.from_bytes

    def seed(index: int) -> int:
        state = copy()
        state.update(str(index).encode())
        return from_bytes(state.digest()[:4], "big")

    return seed


def case_order(cases: Sequence[Case], session_seed: int, nodeid: str, first: Collection[str] = ()) -> list[Case]:
    """Cases in a seeded random order, so a budget that stops early still samples fairly.

    Cases are sorted by id before the shuffle: the order then depends on the seed and the
    set of cases only, not on how a loader happened to list them (a directory walk, a set).
    Cases whose id is in ``first`` (those a stored baseline can pair with) come first, each
    group shuffled: the order still depends on nothing the trials produce.
    """
    rng = random.Random(_derive("case-order", session_seed, nodeid))
    ordered = sorted(cases, key=lambda case: case.id)
    rng.shuffle(ordered)
    if first:
        ordered = [c for c in ordered if c.id in first] + [c for c in ordered if c.id not in first]
    return ordered
