"""Which event loop an async eval's trials run on: the one its test would have run on.

An async eval is one test whose body runs many times, so its trials must share the loop that
its async fixtures (clients, connections) were built on. The plugin asks this module for an
``on_loop`` runner (``trials.OnLoop``) for the item:

* **pytest-asyncio** (auto mode, or strict mode with ``@pytest.mark.asyncio``). pytest-asyncio
  runs a test by replacing ``item.obj``, inside ``runtest``, with a sync wrapper that runs the
  coroutine on the ``asyncio.Runner`` of the test's ``loop_scope``. ``install_entry`` (called
  before ``runtest``) puts ``loop_entry`` in the test function's place, so the wrapper
  pytest-asyncio builds runs *our* coroutine on *its* runner: ``item.obj(make=make)`` runs the
  whole eval there, with the test's context variables, as one test call.
* **anyio** (``@pytest.mark.anyio``, ``anyio_mode = auto``): the item has an ``anyio_backend``
  fixture; the eval goes through anyio's own test runner (``get_runner``), the one its async
  fixtures of every scope share. Only the asyncio backend: the trial runner is asyncio code.
* **neither**: a fresh loop of the trial runner's own (``None``).

Nothing here imports pytest-asyncio or anyio unless the item uses them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from pytest_rollout.errors import RolloutError
from pytest_rollout.evals.trials import OnLoop

Make = Callable[[], Coroutine[Any, Any, None]]


async def loop_entry(make: Make) -> None:
    """Stands in for an async eval's test function while pytest-asyncio wraps it."""
    await make()


def install_entry(item: Any) -> Callable[..., Any]:
    """Put ``loop_entry`` in the place of the item's test function; returns the function."""
    original: Callable[..., Any] = item.obj
    item.obj = loop_entry
    return original


def test_loop(item: Any) -> OnLoop | None:
    """The runner for the loop the item's test would have run on, or None (a loop of our own)."""
    obj = item.obj
    if obj is not loop_entry and not inspect.iscoroutinefunction(obj):
        return _synchronized(obj)  # pytest-asyncio (or a plugin like it) wrapped loop_entry
    backend = item.funcargs.get("anyio_backend")
    if backend and item.config.pluginmanager.has_plugin("anyio"):
        return _anyio(backend)
    return None


def _synchronized(wrapper: Callable[..., Any]) -> OnLoop:
    def on_loop(make: Make) -> None:
        wrapper(make=make)

    return on_loop


def _anyio(backend: object) -> OnLoop:
    from anyio.pytest_plugin import extract_backend_and_options, get_runner

    name, options = extract_backend_and_options(backend)
    if name != "asyncio":
        raise RolloutError(
            f"async evals run on asyncio; anyio backend {name!r} is not supported: "
            "define an `anyio_backend` fixture that returns 'asyncio'"
        )

    def on_loop(make: Make) -> None:
        with get_runner(name, options) as runner:
            runner.run_test(loop_entry, {"make": make})

    return on_loop
