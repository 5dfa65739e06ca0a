"""Layer-map glob matching: the linear matcher against the backtracking regex it replaced.

Run: ``.venv/bin/python benchmarks/bench_glob.py [--segments 3000]``

A pattern with several ``**`` (``**/a/**/a/**/a/**/b``) against a long path that does not
match: the old translation (``(?:.*/)?`` per ``**``, run by ``re``) backtracks polynomially in
the path length; ``gate.layers.Glob`` steps over the path once per live pattern position. The
regex is timed on a shorter path (it would take minutes on the long one), both are printed.
"""

from __future__ import annotations

import argparse
import re
import time

from pytest_rollout.gate.layers import Glob

PATTERN = "**/a/**/a/**/a/**/a/**/b"


def old_regex(pattern: str) -> re.Pattern[str]:
    """The translation main used before (kept here only to measure against)."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"(?:/.+)?\Z")


def timed(fn: object, *args: object) -> tuple[object, float]:
    start = time.perf_counter()
    result = fn(*args)  # type: ignore[operator]
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--segments", type=int, default=3000)
    parser.add_argument("--regex-segments", type=int, default=60)
    args = parser.parse_args()
    long_path = "/".join(["a"] * args.segments) + "/c"
    short_path = "/".join(["a"] * args.regex_segments) + "/c"
    glob = Glob(PATTERN)
    hit, t_nfa = timed(glob._match, long_path)
    hit_short, t_nfa_short = timed(glob._match, short_path)
    rx_hit, t_rx = timed(lambda p: bool(old_regex(PATTERN).match(p)), short_path)
    assert hit is False and hit_short is False and rx_hit is False
    print(f"pattern {PATTERN!r}")
    print(f"Glob, {args.segments} segments: {t_nfa * 1000:.1f} ms (no match)")
    print(f"Glob, {args.regex_segments} segments: {t_nfa_short * 1000:.2f} ms")
    print(
        f"old regex, {args.regex_segments} segments: {t_rx * 1000:.1f} ms ({t_rx / max(t_nfa_short, 1e-9):.0f}x Glob)"
    )


if __name__ == "__main__":
    main()
