"""When trials run: inline, on a pool of daemon threads, or as tasks on an event loop.

The drivers take trials from the ``Ledger`` and hand back their records; they never look at
outcomes (see "Threads and timeouts" and "Event loops" in ``trials.py``).
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from time import perf_counter
from types import CoroutineType
from typing import Any

from pytest_rollout.evals.attempts import awaitable, refuse_awaitable, run_sync_trial, run_timed_trial
from pytest_rollout.evals.ledger import Ledger
from pytest_rollout.evals.records import Trial, TrialRecord, cancelled, passed, record, timed_out


def drive_inline(run: Ledger, call: Callable[[Trial], Any]) -> None:
    """Serial, in the calling thread: fixtures and thread-locals work as in a plain test.

    ``attempts.run_sync_trial`` in the loop's own frame (no call per trial for it)."""
    next_trial, complete = run.next_trial, run.complete
    while (trial := next_trial()) is not None:
        start = perf_counter()
        try:
            if (result := call(trial)) is not None:
                refuse_awaitable(result)
        except Exception as exc:  # recorded: AssertionError fails the trial, anything else is an error trial
            complete(record(trial, exc, perf_counter() - start))
        else:
            complete(passed(trial, perf_counter() - start))


class _DaemonPool:
    """``ThreadPoolExecutor``'s ``submit`` on daemon threads.

    ``concurrent.futures`` joins its workers at interpreter exit, so one hung call abandoned
    at its timeout kept the whole process alive after the report. Daemon workers are not
    joined: the process ends when pytest does. Workers start on demand, up to ``size``.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = queue.SimpleQueue()
        self._workers = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._jobs.put((future, lambda: fn(*args)))
        if self._workers < self._size:
            self._workers += 1
            threading.Thread(target=self._work, name="rollout-trial", daemon=True).start()
        return future

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, thunk = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(thunk())
            except BaseException as exc:  # pytest outcomes and the like: the driver re-raises them
                future.set_exception(exc)

    def shutdown(self) -> None:
        """Cancel what has not started; idle workers exit, busy ones once their call returns."""
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job[0].cancel()
        for _ in range(self._workers):
            self._jobs.put(None)


class PoolDriver:
    """Sync trials on worker threads, each with a deadline counted from its start."""

    def __init__(self, run: Ledger, call: Callable[[Trial], Any], concurrency: int, timeout: float | None) -> None:
        self._run, self._call, self._concurrency, self._timeout = run, call, concurrency, timeout
        self._pool = self._new_pool()
        self._inflight: dict[Future[TrialRecord], tuple[Trial, float]] = {}

    def _new_pool(self) -> _DaemonPool:
        return _DaemonPool(self._concurrency)

    def drive(self) -> None:
        try:
            self._start_more()
            while self._inflight:
                done, _ = wait(self._inflight, timeout=self._until_deadline(), return_when=FIRST_COMPLETED)
                for future in done:
                    self._collect(future)
                self._expire()
                self._start_more()
        finally:  # normally nothing is left but abandoned timed-out threads; on Ctrl-C, don't wait
            self._pool.shutdown()

    def _start_more(self) -> None:
        while len(self._inflight) < self._concurrency and (trial := self._run.next_trial()) is not None:
            context = contextvars.copy_context()
            future = self._pool.submit(context.run, run_sync_trial, self._call, trial)
            self._inflight[future] = (trial, time.monotonic())

    def _collect(self, future: Future[TrialRecord]) -> None:
        del self._inflight[future]
        exc = future.exception()
        if exc is not None:  # trial errors are records, so this is a BaseException (or a bug): propagate it
            self._run.halt(exc)
        else:
            self._run.complete(future.result())

    def _until_deadline(self) -> float | None:
        if self._timeout is None:
            return None
        first_start = min(started for _, started in self._inflight.values())
        return max(0.0, first_start + self._timeout - time.monotonic())

    def _expire(self) -> None:
        if self._timeout is None:
            return
        now = time.monotonic()
        late = [f for f, (_, t0) in self._inflight.items() if not f.done() and now - t0 >= self._timeout]
        for future in late:
            trial, started = self._inflight.pop(future)
            self._run.complete(timed_out(trial, self._timeout, now - started))
        if late:
            self._replace_pool()

    def _replace_pool(self) -> None:
        """A timed-out thread keeps its worker: new trials get fresh workers, nobody waits for it."""
        self._pool.shutdown()
        self._pool = self._new_pool()


async def drive_async(run: Ledger, call: Callable[[Trial], Any], concurrency: int, timeout: float | None) -> None:
    """At most ``concurrency`` trials at once on the running loop. At the stop (or on any way
    out: a ``BaseException``, a bug in the feed, this coroutine cancelled) the trials still in
    flight are cancelled and awaited, then recorded as not used.

    ``concurrency=1``: the trials are awaited here, one after the other. Otherwise a fixed set
    of worker tasks, each running one trial after another. No task per trial either way; each
    trial in its own context (``in_own_context``). This coroutine wakes only when a worker ends,
    to start another if the ledger has a trial (an all-error unit can free one after a worker
    found none)."""
    if concurrency == 1:
        if (trial := run.next_trial()) is not None:
            await _work(run, call, timeout, trial, _Closing())
        return
    closing, pool = _Closing(), _Workers()
    try:
        while True:
            while len(pool.running) < concurrency and (trial := run.next_trial()) is not None:
                pool.start(_work(run, call, timeout, trial, closing))
            if not pool.running:
                return
            _retrieve(await pool.ended())
            if run.stopped or run.halted:
                return
    finally:
        if pool.running:
            closing.now = True
            for task in pool.running:
                task.cancel()
            ended, _ = await asyncio.wait(pool.running)
            for task in ended:  # a cancelled worker keeps its trial's record; retrieve whatever it raised
                _ = task.cancelled() or task.exception()


class _Workers:
    """The worker tasks of one async run. A task that ends wakes the driver through one event
    (``asyncio.wait`` would add a callback to every running task each time: O(concurrency^2)
    callbacks at the end of a run)."""

    def __init__(self) -> None:
        self.running: set[asyncio.Task[None]] = set()
        self._ended: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()

    def start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        task.add_done_callback(self._end)
        self.running.add(task)

    def _end(self, task: asyncio.Task[None]) -> None:
        self._ended.append(task)
        self._wake.set()

    async def ended(self) -> set[asyncio.Task[None]]:
        """The tasks that ended since the last call (waits for one)."""
        await self._wake.wait()
        self._wake.clear()
        done, self._ended = set(self._ended), []
        self.running -= done
        return done


class _Closing:
    """Set once the driver cancels its workers: a trial that returns anyway (its body swallowed
    the cancellation) is kept, never consumed, and its worker takes no other."""

    now = False


async def _work(
    run: Ledger, call: Callable[[Trial], Any], timeout: float | None, trial: Trial, closing: _Closing
) -> None:
    """Run ``trial``, then the next ones, until the ledger has none (stopped, halted, out of budget)."""
    next_trial, complete = run.next_trial, run.complete
    cancelling = _cancel_requests()
    while True:
        started = perf_counter()
        try:
            if timeout is None:
                result = call(trial)
                if type(result) is CoroutineType:
                    if (rest := in_own_context(result)) is not None:
                        await rest
                else:
                    await awaitable(result)
                rec = passed(trial, perf_counter() - started)
            else:
                rec = await run_timed_trial(call, trial, timeout)
        except asyncio.CancelledError:
            run.keep(cancelled(trial, perf_counter() - started))
            raise
        except Exception as exc:  # AssertionError fails the trial, anything else is an error trial
            rec = record(trial, exc, perf_counter() - started)
        except BaseException as exc:  # a KeyboardInterrupt, a pytest outcome: the run stops, it propagates
            run.halt(exc)
            return
        if closing.now or cancelling():  # cancelled, and the body returned anyway
            run.keep(rec)
            raise asyncio.CancelledError
        complete(rec)
        following = next_trial()
        if following is None:
            return
        trial = following


def in_own_context(coro: Coroutine[Any, Any, Any]) -> _Resume | None:
    """Run ``coro`` with every step in its own copy of the context, as a task per trial would
    (a trial's ContextVars, tracing spans and log bindings never reach the next trial or the
    test after the eval), without a task's round trip through the loop. Its first step runs
    here: None when the body finished in it (a cache hit), else the rest, to await."""
    run = contextvars.copy_context().run
    try:
        step = run(coro.send, None)
    except StopIteration:
        return None
    return _Resume(coro, run, step)


class _Resume:
    """The rest of a suspended coroutine, each step in its context; a cancellation thrown into
    the awaiting task is thrown into the body, as a task would."""

    __slots__ = ("_coro", "_run", "_step")

    def __init__(self, coro: Coroutine[Any, Any, Any], run: Callable[..., Any], step: Any) -> None:
        self._coro, self._run, self._step = coro, run, step

    def __await__(self) -> Any:
        run, send, throw = self._run, self._coro.send, self._coro.throw
        step = self._step
        while True:
            try:
                value = yield step
            except BaseException as exc:  # a cancellation (or close) goes to the body, in its context
                try:
                    step = run(throw, exc)
                except StopIteration as stop:
                    return stop.value
                continue
            try:
                step = run(send, value)
            except StopIteration as stop:
                return stop.value


def _cancel_requests() -> Callable[[], int]:
    """``Task.cancelling`` of the running task (Python 3.11+), else a stand-in that says 0."""
    task = asyncio.current_task()
    return getattr(task, "cancelling", None) or (lambda: 0)


def _retrieve(tasks: set[asyncio.Task[None]]) -> None:
    """Re-raise what a worker raised (a bug in the feed; a body that raised ``CancelledError``
    itself), once every task's exception is retrieved, so none is reported as never retrieved."""
    failures = [asyncio.CancelledError() if task.cancelled() else task.exception() for task in tasks]
    for exc in failures:
        if exc is not None:
            raise exc


def run_loop(make: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """A fresh event loop: here, or on a worker thread when this thread already runs one
    (``asyncio.run`` refuses to nest, e.g. under an async test runner)."""
    if not _loop_running():
        asyncio.run(make())
        return
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rollout-loop")
    try:
        pool.submit(contextvars.copy_context().run, lambda: asyncio.run(make())).result()
    finally:
        pool.shutdown(wait=False)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # the documented "no running loop" signal
        return False
    return True
