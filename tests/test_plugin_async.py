"""Async evals under pytest-asyncio (strict, auto) and anyio's plugin, through pytester.

One eval module, written as a user of each plugin would: an AsyncOpenAI-like client bound to
the loop it was made on (a call from another loop is an error trial), built by async fixtures
of function, module and session scope and shared by two evals each. The client writes what
it saw (peak calls in flight, calls from a wrong loop, whether it was closed on its own loop)
to a file when its fixture tears it down. Every configuration must give the same verdicts for
one ``--rollout-seed``: good evals PASS, bad ones FAIL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pytest_asyncio")
pytest.importorskip("anyio")

CLIENT = """
import asyncio, json, os, random

class FakeAsyncOpenAI:
    '''The shape of openai.AsyncOpenAI: made on a loop, used and closed on that loop only.'''

    def __init__(self, name):
        self.name, self.loop = name, asyncio.get_running_loop()
        self.inflight = self.peak = self.calls = self.wrong_loop = 0
        self.enough = asyncio.Event()  # opens once `concurrency` calls were in flight at once

    async def complete(self, seed, quality):
        if asyncio.get_running_loop() is not self.loop:
            self.wrong_loop += 1
            raise RuntimeError("Event loop is closed")  # what httpx says when used across loops
        self.calls += 1
        self.inflight += 1
        self.peak = max(self.peak, self.inflight)
        if self.peak >= int(os.environ["ASYNC_CONCURRENCY"]):
            self.enough.set()
        try:
            await self.enough.wait()  # no timer: the first trials wait until the peak is reached
            await asyncio.sleep(0)
        finally:
            self.inflight -= 1
        return random.Random(seed).random() < quality

    async def aclose(self):
        closed_on_loop = asyncio.get_running_loop() is self.loop
        stats = dict(name=self.name, peak=self.peak, calls=self.calls, wrong_loop=self.wrong_loop,
                     closed_on_loop=closed_on_loop)
        path = os.path.join(os.environ["ASYNC_STATS"], f"{self.name}-{os.getpid()}-{id(self)}.json")
        with open(path, "w") as f:
            json.dump(stats, f)
"""

# Each eval: 300 trials at most, pass_rate 0.8; a good system answers right 97% of the time.
EVALS = """
import pytest
from client import FakeAsyncOpenAI
{imports}

{fixture_deco}
async def fn_client():
    client = FakeAsyncOpenAI("function")
    yield client
    await client.aclose()

{module_deco}
async def mod_client():
    client = FakeAsyncOpenAI("module")
    yield client
    await client.aclose()

{session_deco}
async def sess_client():
    client = FakeAsyncOpenAI("session")
    yield client
    await client.aclose()

def spec():
    return pytest.mark.eval(trials=300, pass_rate=0.8, margin=0.1, concurrency=CONCURRENCY)

import os
CONCURRENCY = int(os.environ["ASYNC_CONCURRENCY"])

{mark_function}
@spec()
async def test_function_good(fn_client, trial):
    assert await fn_client.complete(trial.seed, 0.97)

{mark_function}
@spec()
async def test_function_bad(fn_client, trial):
    assert await fn_client.complete(trial.seed, 0.50)

{mark_module}
@spec()
async def test_module_good(mod_client, trial):
    assert await mod_client.complete(trial.seed, 0.97)

{mark_module}
@spec()
async def test_module_bad(mod_client, trial):
    assert await mod_client.complete(trial.seed, 0.50)

{mark_session}
@spec()
async def test_session_good(sess_client, trial):
    assert await sess_client.complete(trial.seed, 0.97)

{mark_session}
@spec()
async def test_session_bad(sess_client, trial):
    assert await sess_client.complete(trial.seed, 0.50)
"""

ASYNCIO_FIXTURES = {
    "imports": "import pytest_asyncio",
    "fixture_deco": "@pytest_asyncio.fixture",
    "module_deco": '@pytest_asyncio.fixture(scope="module", loop_scope="module")',
    "session_deco": '@pytest_asyncio.fixture(scope="session", loop_scope="session")',
}
ANYIO_FIXTURES = {
    "imports": "",
    "fixture_deco": "@pytest.fixture",
    "module_deco": '@pytest.fixture(scope="module")',
    "session_deco": '@pytest.fixture(scope="session")',
}
ANYIO_CONFTEST = """
import pytest

@pytest.fixture(scope="session")
def anyio_backend():
    return "asyncio"
"""

# What a user of each plugin writes: ini lines, marks per loop scope, fixture decorators.
SETUPS: dict[str, dict[str, Any]] = {
    "asyncio-strict": {
        "ini": "asyncio_mode = strict\nasyncio_default_fixture_loop_scope = function",
        "marks": [
            "@pytest.mark.asyncio",
            '@pytest.mark.asyncio(loop_scope="module")',
            '@pytest.mark.asyncio(loop_scope="session")',
        ],
        "fixtures": ASYNCIO_FIXTURES,
        "disable": "anyio",
    },
    "asyncio-auto": {
        "ini": "asyncio_mode = auto\nasyncio_default_fixture_loop_scope = function",
        "marks": ["", '@pytest.mark.asyncio(loop_scope="module")', '@pytest.mark.asyncio(loop_scope="session")'],
        "fixtures": ASYNCIO_FIXTURES,
        "disable": "anyio",
    },
    "anyio-strict": {
        "ini": "",
        "marks": ["@pytest.mark.anyio"] * 3,
        "fixtures": ANYIO_FIXTURES,
        "disable": "asyncio",
        "conftest": ANYIO_CONFTEST,
    },
    "anyio-auto": {
        "ini": "anyio_mode = auto",
        "marks": [""] * 3,
        "fixtures": ANYIO_FIXTURES,
        "disable": "asyncio",
        "conftest": ANYIO_CONFTEST,
    },
}
SEED = "5"
EVAL_NAMES = [f"test_{scope}_{quality}" for scope in ("function", "module", "session") for quality in ("good", "bad")]


def write_project(pytester: pytest.Pytester, setup: str) -> None:
    cfg = SETUPS[setup]
    marks = dict(zip(("mark_function", "mark_module", "mark_session"), cfg["marks"], strict=True))
    pytester.makeini(f"[pytest]\n{cfg['ini']}\n")
    pytester.makepyfile(client=CLIENT, test_evals=EVALS.format(**cfg["fixtures"], **marks))
    if "conftest" in cfg:
        pytester.makeconftest(cfg["conftest"])


def run(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    setup: str,
    concurrency: int,
    *args: str,
    subprocess: bool = False,
) -> tuple[pytest.RunResult, dict[str, tuple[Any, ...]], list[dict[str, Any]]]:
    stats = pytester.path / f"stats-{concurrency}-{len(args)}"
    stats.mkdir()
    monkeypatch.setenv("ASYNC_CONCURRENCY", str(concurrency))
    monkeypatch.setenv("ASYNC_STATS", str(stats))
    report = pytester.path / f"report-{concurrency}-{len(args)}.json"
    argv = (f"--rollout-seed={SEED}", f"--rollout-report={report}", "-p", f"no:{SETUPS[setup]['disable']}")
    argv += ("-p", "no:cacheprovider", "-W", "ignore::pytest.PytestWarning", *args)
    res = pytester.runpytest_subprocess(*argv) if subprocess else pytester.runpytest(*argv)
    doc = json.loads(report.read_text())
    verdicts = {e["nodeid"].split("::")[1]: (e["verdict"], e["n"], e["passes"], e["errors"]) for e in doc["evals"]}
    return res, verdicts, [json.loads(p.read_text()) for p in sorted(stats.iterdir())]


def check_run(res: pytest.RunResult, verdicts: dict[str, tuple[Any, ...]], stats: list[dict[str, Any]], c: int) -> None:
    output = "\n".join(res.outlines + res.errlines)
    assert "Task exception was never retrieved" not in output
    assert "Event loop is closed" not in output
    assert "This event loop is already running" not in output
    assert sorted(verdicts) == sorted(EVAL_NAMES), output
    for name, (verdict, _, _, errors) in verdicts.items():
        assert (verdict, errors) == ("PASS" if name.endswith("good") else "FAIL", 0), output
    # Each client lived and died on its loop; `concurrency` trials were in flight on it at once.
    assert stats and all(s["wrong_loop"] == 0 and s["closed_on_loop"] for s in stats), stats
    assert all(s["peak"] == c for s in stats), stats
    scopes = sorted(s["name"] for s in stats)
    assert scopes.count("function") == 2  # a fresh client per eval; one each for module and session
    assert 1 <= scopes.count("module") <= 2 and 1 <= scopes.count("session") <= 2  # two under xdist


@pytest.mark.parametrize("setup", sorted(SETUPS))
def test_async_evals_run_on_the_plugins_loop(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, setup: str
) -> None:
    """concurrency=1 and 8 in one process: same verdicts, each client on its own loop."""
    write_project(pytester, setup)
    seen = []
    for concurrency in (1, 8):
        res, verdicts, stats = run(pytester, monkeypatch, setup, concurrency)
        res.assert_outcomes(passed=3, failed=3)
        check_run(res, verdicts, stats, concurrency)
        seen.append(verdicts)
    assert seen[0] == seen[1]
    good, _, _ = run(pytester, monkeypatch, setup, 8, "-k", "good")
    assert good.ret == 0
    good.assert_outcomes(passed=3)


@pytest.mark.parametrize("setup", sorted(SETUPS))
def test_async_evals_under_xdist_give_the_same_verdicts(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, setup: str
) -> None:
    write_project(pytester, setup)
    _, serial, _ = run(pytester, monkeypatch, setup, 8)
    res, spread, stats = run(pytester, monkeypatch, setup, 8, "-n", "2", subprocess=True)
    res.assert_outcomes(passed=3, failed=3)
    check_run(res, spread, stats, 8)
    assert spread == serial


def test_an_unsupported_anyio_backend_is_a_one_line_failure(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('import pytest\n@pytest.fixture\ndef anyio_backend():\n    return "trio"\n')
    pytester.makepyfile("""
        import pytest
        @pytest.mark.anyio
        @pytest.mark.eval(trials=10, pass_rate=0.5)
        async def test_x(trial):
            pass
    """)
    res = pytester.runpytest("-p", "no:asyncio", "-W", "ignore::pytest.PytestWarning")
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*anyio backend 'trio' is not supported*returns 'asyncio'"])
    assert "Traceback" not in res.stdout.str()


def test_a_plain_async_eval_still_runs_on_a_loop_of_its_own(pytester: pytest.Pytester) -> None:
    """No async plugin, or pytest-asyncio in strict mode without its mark: a fresh loop per eval."""
    pytester.makepyfile("""
        import asyncio, pytest
        @pytest.mark.eval(trials=40, pass_rate=0.5, concurrency=4)
        async def test_x(trial):
            await asyncio.sleep(0)
    """)
    for disable in (("-p", "no:asyncio", "-p", "no:anyio"), ("-p", "no:anyio")):
        pytester.runpytest(*disable, "-W", "ignore::pytest.PytestWarning").assert_outcomes(passed=1)


FAKE_OPENAI = """
import asyncio, os, random
from types import SimpleNamespace as NS

class AsyncOpenAI:
    '''openai.AsyncOpenAI's shape: client.chat.completions.create(...), await client.close().'''

    def __init__(self, timeout):
        self.loop = asyncio.get_running_loop()
        self.chat = NS(completions=NS(create=self._create))

    async def _create(self, model, messages, seed):
        if asyncio.get_running_loop() is not self.loop:
            raise RuntimeError("Event loop is closed")
        await asyncio.sleep(0)
        right = random.Random(seed).random() < float(os.environ["FAKE_QUALITY"])
        text = "Yes: a refund is possible within 60 days." if right else "Please contact support."
        return NS(choices=[NS(message=NS(content=text))])

    async def close(self):
        assert asyncio.get_running_loop() is self.loop
"""


def docs_example(name: str) -> str:
    text = (Path(__file__).parents[1] / "docs" / "async.md").read_text()
    block = text.split(f"<!-- docs-test: {name} -->\n```python\n", 1)[1]
    return block.split("```", 1)[0]


@pytest.mark.parametrize(("quality", "outcome"), [("0.97", "passed"), ("0.4", "failed")])
def test_the_docs_example_runs_as_written(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, quality: str, outcome: str
) -> None:
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.mkpydir("myapp").joinpath("llm.py").write_text(FAKE_OPENAI)
    pytester.makepyfile(test_support=docs_example("asyncio"))
    monkeypatch.setenv("FAKE_QUALITY", quality)
    res = pytester.runpytest("-p", "no:anyio", "-W", "ignore::pytest.PytestWarning", "--rollout-seed=3")
    res.assert_outcomes(**{outcome: 1})
    assert "Event loop is closed" not in res.stdout.str()
