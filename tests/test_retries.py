"""Retries of transient errors: which exceptions, how long the waits (injected sleeps, never real
ones), the seed kept, the count reported; through pytest for sync, pytest-asyncio and anyio evals."""

from __future__ import annotations

import json

import pytest

from pytest_rollout.evals.records import Trial
from pytest_rollout.evals.retries import MAX_DELAY, RetryPolicy, is_rate_limit, is_transient, retrying


class RateLimitError(Exception):
    pass


class HTTPError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.response = type("Response", (), {"status_code": status})()


def test_what_counts_as_transient() -> None:
    assert is_transient(RateLimitError("slow down")) and is_rate_limit(RateLimitError())
    assert is_transient(HTTPError(429)) and is_transient(HTTPError(503)) and not is_transient(HTTPError(400))
    assert is_transient(ConnectionResetError()) and is_transient(TimeoutError())
    assert not is_transient(ValueError("bad JSON from the model")) and not is_transient(AssertionError())
    assert not is_rate_limit(ConnectionError())  # a connection error is an error trial by errors=, not by name


def _flaky(failures: int, exc: Exception) -> tuple[list[int], object]:
    seeds: list[int] = []

    def body(trial: Trial) -> str:
        seeds.append(trial.seed)
        trial.usage(cost=1.0)
        trial.note(f"attempt {len(seeds)}")
        if len(seeds) <= failures:
            raise exc
        return "ok"

    return seeds, body


def test_backoff_is_exponential_with_jitter_and_the_seed_is_kept() -> None:
    sleeps: list[float] = []
    seeds, body = _flaky(3, RateLimitError())
    call = retrying(body, RetryPolicy(retries=3, backoff=1.0, sleep=sleeps.append), is_async=False)  # type: ignore[arg-type]
    trial = Trial(index=4, seed=1234)
    assert call(trial) == "ok"
    assert seeds == [1234] * 4 and trial.retries == 3
    for k, wait in enumerate(sleeps):
        assert 2.0**k / 2 <= wait <= 2.0**k  # d/2 + jitter in [0, d/2]
    assert len(set(sleeps)) == 3
    assert trial._usage == [0.0, 0.0, 4.0] and trial._notes == ["attempt 4"]  # usage adds up, notes start over


def test_waits_are_capped_and_replayable() -> None:
    policy = RetryPolicy(retries=30, backoff=10.0)
    trial = Trial(index=0, seed=7)
    assert policy.delay(trial, 20) <= MAX_DELAY
    assert policy.delay(trial, 2) == RetryPolicy(retries=30, backoff=10.0).delay(Trial(index=0, seed=7), 2)


def test_failures_and_exhausted_retries_are_raised() -> None:
    sleeps: list[float] = []
    seeds, body = _flaky(5, RateLimitError())
    call = retrying(body, RetryPolicy(retries=2, sleep=sleeps.append), is_async=False)  # type: ignore[arg-type]
    with pytest.raises(RateLimitError):
        call(Trial(index=0, seed=1))
    assert len(seeds) == 3 and len(sleeps) == 2
    seeds, body = _flaky(5, AssertionError("wrong answer"))
    call = retrying(body, RetryPolicy(retries=2, retry_on=lambda e: True, sleep=sleeps.append), is_async=False)  # type: ignore[arg-type]
    with pytest.raises(AssertionError):
        call(Trial(index=0, seed=1))
    assert len(seeds) == 1  # a failed trial is never retried into a pass


def test_no_retries_means_the_body_itself() -> None:
    def body(trial: Trial) -> None:
        return None

    assert retrying(body, None, is_async=False) is body
    assert retrying(body, RetryPolicy(retries=0), is_async=True) is body


SYNC = """
import pytest

SEEN = {}

class RateLimitError(Exception):
    pass

@pytest.mark.eval(trials=30, pass_rate=0.5, margin=0.2, retries=2, backoff=0)
def test_flaky_api(trial):
    SEEN.setdefault(trial.index, []).append(trial.seed)
    if len(SEEN[trial.index]) == 1 and trial.index % 3 == 0:
        raise RateLimitError("429 Too Many Requests")
    assert len(set(SEEN[trial.index])) == 1, "a retry got a new seed"

@pytest.mark.eval(trials=30, pass_rate=0.5, margin=0.2, retries=1, backoff=0, max_error_rate=0.2)
def test_still_down(trial):
    raise RateLimitError("429 Too Many Requests")

@pytest.mark.eval(trials=30, pass_rate=0.5, margin=0.2, retries=3, backoff=0, retry_on=KeyError)
def test_bad_output_is_not_retried(trial):
    raise ValueError("the model's JSON did not parse")
"""


def test_retries_through_pytest(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_retry=SYNC)
    res = pytester.runpytest("--rollout-seed=1", "--rollout-report=r.json", "-W", "ignore::pytest.PytestWarning", "-v")
    res.assert_outcomes(passed=1, failed=2)
    by = {e["nodeid"].split("::")[1]: e for e in json.loads((pytester.path / "r.json").read_text())["evals"]}
    flaky = by["test_flaky_api"]
    assert flaky["verdict"] == "PASS" and flaky["errors"] == 0 and flaky["failures"] == 0
    assert flaky["retries"] == sum(1 for t in flaky["trials"] if t["index"] % 3 == 0) > 0
    assert all(t["retries"] == (t["index"] % 3 == 0) for t in flaky["trials"])
    down = by["test_still_down"]  # retries spent: a rate limit is an error trial, never a failure
    assert down["verdict"] == "ERROR" and down["failures"] == 0 and down["retries"] >= down["n"]
    bad = by["test_bad_output_is_not_retried"]
    assert bad["verdict"] == "FAIL" and bad["retries"] == 0
    res.stdout.fnmatch_lines(["*test_flaky_api*PASS*, * retries*"])


ASYNC = """
import asyncio
import pytest

SEEN = {}

class APIConnectionError(Exception):
    pass

async def body(trial):
    SEEN.setdefault(trial.index, []).append(trial.seed)
    await asyncio.sleep(0)
    if len(SEEN[trial.index]) < 3 and trial.index % 2 == 0:
        raise APIConnectionError("connection reset")
    trial.score(0.9)

@pytest.mark.{mark}
@pytest.mark.eval(trials=20, min_score=0.5, margin=0.2, retries=2, backoff=0, concurrency=4)
async def test_async_retries(trial):
    await body(trial)
    assert len(set(SEEN[trial.index])) == 1
"""


@pytest.mark.parametrize("mark", ["asyncio", "anyio"])
def test_async_retries_under_pytest_asyncio_and_anyio(pytester: pytest.Pytester, mark: str) -> None:
    pytester.makepyfile(test_async=ASYNC.replace("{mark}", mark))
    if mark == "anyio":
        pytester.makeconftest("import pytest\n@pytest.fixture\ndef anyio_backend():\n    return 'asyncio'\n")
    res = pytester.runpytest("--rollout-seed=2", "--rollout-report=r.json", "-p", "no:randomly")
    res.assert_outcomes(passed=1)
    (e,) = json.loads((pytester.path / "r.json").read_text())["evals"]
    assert e["verdict"] == "PASS" and e["errors"] == 0
    used = [t for t in e["trials"] if t["index"] % 2 == 0]
    assert all(t["retries"] == 2 for t in used) and all(t["retries"] == 0 for t in e["trials"] if t not in used)
    assert e["retries"] >= 2 * len(used) > 0  # every trial run counts, those in flight at the stop too
