"""``paused_gc``: the cyclic garbage collector off while config files are parsed and diffed.

A parse builds many small dicts, lists and strings that all live until the diff is done.
Each allocation burst triggers generational collections that re-scan everything alive, so
with the collector on, parse time grows faster than the file (issue 19: a 1 MB YAML took
691 ms with it, 276 ms without). Nothing a parse makes becomes cyclic garbage before the
diff ends, and reference counting still frees everything acyclic, so the collector is paused
for the diff and resumed after (a collector the caller had disabled stays disabled).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
