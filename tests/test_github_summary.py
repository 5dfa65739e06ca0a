"""CI summaries that tell the truth: the step summary and annotations of real pytest runs, and
what ``--rollout-record`` says it recorded (real git repositories, real stores)."""

from __future__ import annotations

import pytest

from conftest import SEED_APP_BASE, SEED_SERVING_BASE, GitRepo, seed_head

PASSING_EVAL = """\
import pytest

@pytest.mark.eval(trials=20, pass_rate=0.6, margin=0.4)
def test_good(trial):
    assert True
"""

UNDECIDED_EVAL = """\
import pytest


@pytest.mark.eval(trials=4, pass_rate=0.5)
def test_undecided(trial):
    assert trial.index % 2
"""


@pytest.fixture
def summary(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> object:
    path = pytester.path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(path))
    return path


def test_the_approved_bundle_is_named_with_its_commit_and_author(
    pytester: pytest.Pytester, pytester_repo: GitRepo, summary: object
) -> None:
    base = pytester_repo.commit({"config/app.yaml": SEED_APP_BASE, "deploy/serving.yaml": SEED_SERVING_BASE})
    app, serving = seed_head()
    head = pytester_repo.commit(
        {"config/app.yaml": app, "deploy/serving.yaml": serving},
        "bundle\n\nRollout-Bundle-Approved: provider migration, measured as one unit",
    )
    pytester.runpytest("--rollout-gate", f"--rollout-base={base}")
    text = summary.read_text()  # type: ignore[attr-defined]
    assert "**Gate decision: ✅ PASS**" in text
    assert (
        f"- bundle approved: provider migration, measured as one unit (commit {head[:10]} by Test Author "
        "<test@example.com>)"
    ) in text


def test_an_empty_window_is_a_warning_under_the_headline(
    pytester: pytest.Pytester, pytester_repo: GitRepo, summary: object
) -> None:
    pytester_repo.commit({"test_evals.py": PASSING_EVAL}, "only commit")
    res = pytester.runpytest("--rollout-gate", "--rollout-base=HEAD")
    assert res.ret == pytest.ExitCode.OK
    lines = summary.read_text().splitlines()  # type: ignore[attr-defined]
    assert lines[2] == "**Run: ✅ PASS** (1 warning(s) below)"
    assert lines[4].startswith("> ⚠️ warning: the release window is empty: base HEAD already contains head")


def test_a_let_through_inconclusive_is_a_warning_annotation_on_its_line(
    pytester: pytest.Pytester, pytester_repo: GitRepo, summary: object
) -> None:
    pytester.makepyfile(test_evals=UNDECIDED_EVAL)
    res = pytester.runpytest("--rollout-inconclusive=pass", "-p", "no:randomly")
    assert res.ret == pytest.ExitCode.OK
    res.stdout.fnmatch_lines(["::warning file=test_evals.py,line=4::test_evals.py::test_undecided INCONCLUSIVE: *"])
    assert "::error" not in res.stdout.str()
    assert summary.read_text().splitlines()[2] == "**Run: ✅ PASS**"  # type: ignore[attr-defined]


def test_failing_evals_come_first_in_the_table(
    pytester: pytest.Pytester, pytester_repo: GitRepo, summary: object
) -> None:
    pytester.makepyfile(test_a=PASSING_EVAL, test_b=UNDECIDED_EVAL)
    pytester.runpytest("-p", "no:randomly")
    rows = [r for r in summary.read_text().splitlines() if r.startswith("| `")]  # type: ignore[attr-defined]
    assert [r.split("`")[1] for r in rows] == ["test_b.py::test_undecided", "test_a.py::test_good"]


def test_record_says_what_it_recorded_and_warns_when_git_does_not_ignore_the_store(
    pytester: pytest.Pytester, pytester_repo: GitRepo, summary: object
) -> None:
    head = pytester_repo.commit({"test_evals.py": PASSING_EVAL}, "evals")
    res = pytester.runpytest("--rollout-record", "--rollout-seed=1")
    assert res.ret == pytest.ExitCode.OK
    store = pytester.path / ".rollout" / "store.sqlite"
    res.stdout.fnmatch_lines(
        [
            f"recorded run 1: commit {head[:10]}, 1 eval(s), in {store}",
            "warning: the baseline store store.sqlite in .rollout/ is not ignored by git: add `.rollout/` to "
            ".gitignore*",
        ]
    )
    text = summary.read_text()  # type: ignore[attr-defined]
    assert f"Recorded: recorded run 1: commit {head[:10]}" in text
    assert "> ⚠️ warning: the baseline store store.sqlite in .rollout/ is not ignored by git" in text


def test_record_does_not_warn_when_the_store_is_ignored(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    pytester_repo.commit({"test_evals.py": PASSING_EVAL, ".gitignore": ".rollout/\n"}, "evals")
    res = pytester.runpytest("--rollout-record", "--rollout-seed=1")
    res.stdout.fnmatch_lines(["recorded run 1: commit *, 1 eval(s), in *store.sqlite"])
    assert "not ignored by git" not in res.stdout.str()


def test_record_never_prints_a_store_password(
    pytester: pytest.Pytester, pytester_repo: GitRepo, postgres_url: str
) -> None:
    pytester_repo.commit({"test_evals.py": PASSING_EVAL}, "evals")
    url = postgres_url.replace("postgres@", "postgres:s3cret-pw@", 1)
    res = pytester.runpytest("--rollout-record", "--rollout-seed=1", f"--rollout-store={url}")
    assert res.ret == pytest.ExitCode.OK
    res.stdout.fnmatch_lines(["recorded run *: commit *, 1 eval(s), in postgresql://postgres:***@*"])
    assert "s3cret-pw" not in res.stdout.str() + res.stderr.str()
