"""The pre-push path stays light: no pydantic, scipy, pytest or GitPython import once the settings cache is warm,
seven git processes, and a settings cache that a corrupt entry or a changed file cannot fool."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import SEED_APP_BASE, SEED_SERVING_BASE, GitRepo, seed_head
from pytest_rollout import settings_cache
from pytest_rollout.errors import SettingsError
from pytest_rollout.settings import load_settings, settings_at

SETTINGS = """\
layers:
  infra:
    files: ["deploy/**/*.yaml"]
  model:
    keys: ["config/app.yaml:llm.model"]
  context:
    keys: ["config/app.yaml:retrieval.top_k"]
"""

_CHECK_IN_PROCESS = """\
import json, sys
from pytest_rollout.cli import main
status = main(["check", "--base", "HEAD~1", "--repo", sys.argv[1], "--json"])
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"pydantic", "pydantic_core", "scipy", "numpy", "pytest",
                                                          "git", "gitdb"})  # GitPython: diff/repo.py
heavy += sorted(m for m in sys.modules if m.startswith(("pytest_rollout.evals", "pytest_rollout.attribution",
                                                        "pytest_rollout.html")))  # stages check never runs
heavy += sorted(m for m in sys.modules if m.startswith("pytest_rollout.cli.") and m != "pytest_rollout.cli.release")
heavy += sorted(m for m in sys.modules if m in {  # what a YAML-only check outside GitHub Actions never needs
    "hashlib", "tempfile", "difflib", "pytest_rollout.github", "pytest_rollout.diff.textdiff",
    "pytest_rollout.diff.formats.json", "pytest_rollout.diff.formats.toml", "pytest_rollout.diff.formats.env"})
print(json.dumps({"status": status, "heavy": heavy}), file=sys.stderr)
"""


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_a_verb_builds_only_its_own_parser_with_the_same_help() -> None:
    """``main`` builds only the invoked verb's parser (cli.init and the others cost check ~40 ms)."""
    from pytest_rollout.cli import _REGISTER, build_parser

    every = _subparsers(build_parser())
    assert list(every) == [name for names, _ in _REGISTER for name in names]  # --help lists them all, in order
    for names, _ in _REGISTER:
        for name in names:
            only = _subparsers(build_parser(name))
            assert list(only) == list(names)
            assert only[name].format_help() == every[name].format_help()


def _exit_output(run: Callable[[], object]) -> tuple[object, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exc:
        run()
    return exc.value.code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    "argv", [["--help"], [], ["chek"], ["-h", "check"], ["--version", "check"], ["check", "--bogus"], ["baseline"]]
)
def test_help_and_usage_errors_are_those_of_the_whole_parser(argv: list[str]) -> None:
    from pytest_rollout.cli import build_parser, main

    assert _exit_output(lambda: main(argv)) == _exit_output(lambda: build_parser().parse_args(argv))


@pytest.fixture
def bundled(git_repo: GitRepo) -> GitRepo:
    git_repo.commit(
        {"rollout.yaml": SETTINGS, "config/app.yaml": SEED_APP_BASE, "deploy/serving.yaml": SEED_SERVING_BASE}, "base"
    )
    app, serving = seed_head()
    git_repo.commit({"config/app.yaml": app, "deploy/serving.yaml": serving}, "bundled deploy")
    return git_repo


def _check(repo: GitRepo, **env: str) -> tuple[int, list[str], str]:
    proc = subprocess.run(
        [sys.executable, "-c", _CHECK_IN_PROCESS, str(repo.path)],
        capture_output=True,
        text=True,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}, **env},
        check=False,
    )
    info = json.loads(proc.stderr.strip().splitlines()[-1])
    return info["status"], info["heavy"], proc.stdout


def test_a_warm_settings_cache_keeps_pydantic_scipy_and_pytest_out_of_check(bundled: GitRepo) -> None:
    status, heavy, cold = _check(bundled)
    assert status == 1 and "pydantic" in heavy  # the first run validates the settings: pydantic is needed
    status, heavy, warm = _check(bundled)
    assert status == 1 and heavy == []  # fresh interpreter, warm cache: none of them
    assert warm == cold  # byte-identical report


def test_check_runs_seven_git_processes(bundled: GitRepo, tmp_path: Path) -> None:
    _check(bundled)  # warm the cache
    trace = tmp_path / "trace.txt"
    status, _, _ = _check(bundled, GIT_TRACE=str(trace))
    calls = [line for line in trace.read_text().splitlines() if "trace: built-in: git" in line]
    assert status == 1 and len(calls) == 7, "\n".join(calls)


def test_the_cache_hashes_are_hashlibs_without_importing_it() -> None:
    import hashlib

    data = b"layers: {}\n" * 100
    assert settings_cache.blob_id(data) == hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    assert settings_cache._sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
    fallback = settings_cache._hasher("sha256", "no_such_module")  # another Python: hashlib's own
    assert fallback is hashlib.sha256


def test_a_release_that_needs_no_trailer_runs_six(bundled: GitRepo, tmp_path: Path) -> None:
    """One layer moved: nothing reads the window's commits (trailers count only for a coupled release)."""
    bundled.commit({"deploy/serving.yaml": SEED_SERVING_BASE}, "only the model moves now")
    _check(bundled)
    trace = tmp_path / "trace.txt"
    status, _, out = _check(bundled, GIT_TRACE=str(trace))
    calls = [line for line in trace.read_text().splitlines() if "trace: built-in: git" in line]
    assert status == 0 and len(calls) == 6 and not any(" log " in c for c in calls), "\n".join(calls)
    assert json.loads(out)["decision"] == {
        "status": "pass",
        "reasons": [],
        "override": None,
        "plan": [],
        "commits": None,
        "pending": None,
    }


def test_a_corrupt_or_foreign_cache_entry_is_a_miss_and_is_rewritten(bundled: GitRepo) -> None:
    first = load_settings(bundled.path)
    where = settings_cache.cache_dir(bundled.path)
    assert where is not None
    (entry,) = where.glob("*.json")
    for junk in ("{not json", json.dumps({"key": entry.stem, "check": "0" * 64, "value": {"strict": True}}), ""):
        entry.write_text(junk)
        assert load_settings(bundled.path).settings == first.settings  # validated again, not the junk
        assert json.loads(entry.read_text())["value"]["strict"] is False  # rewritten


def test_the_cache_answers_by_content_and_never_caches_an_error(bundled: GitRepo) -> None:
    before = settings_at(bundled.path, bundled.sha())
    assert before is not None and before.settings.layers is not None
    bundled.write({"rollout.yaml": SETTINGS.replace("infra:", "Infra:")})
    for _ in range(2):  # the second time too: an invalid file is validated (and refused) each time
        with pytest.raises(SettingsError, match="layer name 'Infra'"):
            load_settings(bundled.path)
    bundled.write({"rollout.yaml": SETTINGS + "strict: true\n"})
    assert load_settings(bundled.path).settings.strict is True
    assert settings_at(bundled.path, bundled.sha()) == before  # the commit's blob: its own entry


def test_concurrent_writers_leave_one_whole_entry(bundled: GitRepo) -> None:
    where = settings_cache.cache_dir(bundled.path)
    assert where is not None
    value = {"strict": True, "layers": None}
    barrier = threading.Barrier(8)

    def write() -> None:
        barrier.wait()
        for _ in range(20):
            settings_cache.put(bundled.path, "yaml", "ab" * 20, value)

    threads = [threading.Thread(target=write) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert settings_cache.get(bundled.path, "yaml", "ab" * 20) == value
    assert [p.name for p in where.iterdir() if p.name.endswith(".tmp")] == []


def test_a_read_only_git_dir_only_loses_the_cache(bundled: GitRepo) -> None:
    where = settings_cache.cache_dir(bundled.path)
    assert where is not None
    where.parent.mkdir(parents=True, exist_ok=True)
    where.write_text("a file where the cache folder should be")  # mkdir fails: nothing is cached
    assert load_settings(bundled.path).settings.layers is not None
    assert settings_cache.get(bundled.path, "yaml", "ab" * 20) is None


def test_a_linked_worktree_finds_its_git_dir(bundled: GitRepo, tmp_path: Path) -> None:
    linked = tmp_path / "linked"
    bundled.repo.git.worktree("add", "-q", "--detach", str(linked))
    where = settings_cache.cache_dir(linked)
    assert where is not None and where.is_relative_to(bundled.path / ".git")
    assert load_settings(linked).settings.layers is not None and any(where.glob("*.json"))


def test_the_diff_pauses_the_cyclic_collector_and_restores_it(git_repo: GitRepo) -> None:
    import gc

    from pytest_rollout.diff import changes
    from pytest_rollout.diff.formats import is_structured

    seen: list[bool] = []
    real = changes.parse

    def spy(path: str, data: bytes) -> object:
        seen.append(gc.isenabled())
        return real(path, data)

    base = git_repo.commit({"config/app.yaml": SEED_APP_BASE})
    head = git_repo.commit({"config/app.yaml": seed_head()[0]})
    changes.parse = spy  # type: ignore[assignment]
    try:
        assert gc.isenabled()
        assert changes.diff_commits(git_repo.path, base, head, is_structured).changes
        assert seen and not any(seen) and gc.isenabled()  # off while parsing, on again after
        gc.disable()
        changes.diff_commits(git_repo.path, base, head, is_structured)
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()
        changes.parse = real  # type: ignore[assignment]


def test_xdist_workers_without_a_gate_import_no_pydantic(pytester: pytest.Pytester) -> None:
    """Every worker loads the plugin; with no gate and no eval it must not pay for pydantic (0.26 s of CPU each)."""
    out = pytester.path / "heavy.txt"
    pytester.makeconftest(
        f"""
        import sys
        def pytest_sessionfinish(session):
            heavy = sorted(m for m in ("pydantic", "scipy", "numpy") if m in sys.modules)
            with open({str(out)!r}, "a") as f:
                f.write(f"{{hasattr(session.config, 'workerinput')}} {{heavy}}\\n")
        """
    )
    pytester.makepyfile("def test_a():\n    pass\n\ndef test_b():\n    pass\n")
    pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider").assert_outcomes(passed=2)
    lines = out.read_text().splitlines()
    assert sorted(lines) == ["False []", "True []", "True []"]


def test_check_pauses_the_collector_and_gives_it_back(bundled: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    import gc

    from pytest_rollout.cli import main
    from pytest_rollout.gate import chain

    seen: list[bool] = []
    real = chain.run_gate

    def spy(req: chain.Request) -> chain.GateResult:
        seen.append(gc.isenabled())
        return real(req)

    chain.run_gate = spy  # type: ignore[assignment]
    try:
        assert gc.isenabled()
        assert main(["check", "--base", "HEAD~1", "--repo", str(bundled.path), "--json"]) == 1
        assert seen == [False] and gc.isenabled()  # off for the run, on again after
    finally:
        chain.run_gate = real  # type: ignore[assignment]
    capsys.readouterr()
