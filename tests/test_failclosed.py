"""Fail closed (issue 11): releases that moved two coupled layers and passed, and bad input that
crashed. Each case is a real repository; each asserts the CLI's answer (1 blocked, 2 refused)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import GitRepo
from pytest_rollout.cli import main
from pytest_rollout.gate.layers import Glob, LayerMap, compile_glob, name_match
from pytest_rollout.settings import Settings

APP = "llm:\n  model: gpt-4o\n  temperature: 0.2\n"
APP_MOVED = "llm:\n  model: gpt-4.1\n  temperature: 0.2\n"


def check(repo: GitRepo, base: str, head: str | None = None, *extra: str) -> int:
    args = ["check", "--repo", str(repo.path), "--base", base, *extra]
    return main([*args, "--head", head] if head else args)


def diff_json(repo: GitRepo, base: str, head: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main(["diff", "--repo", str(repo.path), "--base", base, "--head", head, "--json"]) == 0
    doc: dict[str, object] = json.loads(capsys.readouterr().out)
    return doc


# --------------------------------------------------------------------------- releases that must block


def test_settings_swapped_for_a_symlink_are_refused(git_repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    """Item 3: a release replacing rollout.yaml with a link must not be judged by the defaults."""
    rollout = "override:\n  allowed: false\n"
    base = git_repo.commit({"rollout.yaml": rollout, "app.yaml": APP, "prompts/system.md": "be brief\n"})
    (git_repo.path / "rollout.yaml").unlink()
    (git_repo.path / "rollout.yaml").symlink_to("/dev/null")
    git_repo.commit({"app.yaml": APP_MOVED, "prompts/system.md": "be long\n"}, msg="x\n\nRollout-Bundle-Approved: yes")
    capsys.readouterr()
    assert check(git_repo, base) == 2
    err = capsys.readouterr().err
    assert "rollout.yaml: a symbolic link at" in err and "regular file" in err


def test_base_settings_are_read_from_the_blob_not_through_a_work_tree_link(git_repo: GitRepo) -> None:
    """The base's settings are its committed blob, even when the checkout's file is now a link."""
    from pytest_rollout.settings import load_settings_at

    rollout = "override:\n  allowed: false\n"
    base = git_repo.commit({"rollout.yaml": rollout})
    (git_repo.path / "empty.yaml").write_text("")
    (git_repo.path / "rollout.yaml").unlink()
    (git_repo.path / "rollout.yaml").symlink_to("empty.yaml")
    assert load_settings_at(git_repo.path, base).settings.override.allowed is False


def test_prompts_in_a_submodule_are_watched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Item 5: a submodule at ``prompts`` bumped together with llm.model blocks."""
    sub = GitRepo(tmp_path / "sub")
    sub.commit({"system.md": "be brief\n"})
    repo = GitRepo(tmp_path / "repo")
    repo.commit({"app.yaml": APP})
    subprocess.run(
        ["git", "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub.path), "prompts"],
        cwd=repo.path,
        check=True,
    )
    base = repo.commit(msg="add prompts")
    sub.commit({"system.md": "be long\n"})
    subprocess.run(["git", "pull", "-q"], cwd=repo.path / "prompts", check=True, capture_output=True)
    head = repo.commit({"app.yaml": APP_MOVED})
    doc = diff_json(repo, base, head, capsys)
    assert doc["layers_changed"] == ["model", "prompt"]
    assert check(repo, base) == 1


@pytest.mark.parametrize(
    ("glob", "folder", "inside"),
    [
        ("**/prompts/**", "prompts", True),
        ("prompts/**", "prompts", True),
        ("prompts/*.md", "prompts", True),
        ("prompts", "prompts", True),
        ("app/prompts/**", "prompts", False),
        ("config/*.yaml", "prompts", False),
        ("*.j2", "vendor/templates", True),
    ],
)
def test_could_contain(glob: str, folder: str, inside: bool) -> None:
    assert compile_glob(glob).could_contain(folder) is inside


def test_submodule_under_user_layers(tmp_path: Path) -> None:
    lmap = LayerMap.from_settings(Settings.model_validate({"layers": {"prompt": {"files": ["prompts/**"]}}}))
    assert lmap.watches("prompts/") and lmap.layers_inside("prompts") == ["prompt"]
    assert not lmap.watches("vendor/")


@pytest.mark.parametrize(
    ("base_doc", "head_doc", "layer"),
    [
        (
            {"llm": {"fallbacks": [{"name": "a", "model": "x"}, {"name": "b", "model": "y"}]}},
            {"llm": {"fallbacks": [{"name": "b", "model": "y"}, {"name": "a", "model": "x"}]}},
            "model",
        ),
        (
            {"few_shot": [{"id": 1, "q": "a"}, {"id": 2, "q": "b"}]},
            {"few_shot": [{"id": 2, "q": "b"}, {"id": 1, "q": "a"}]},
            "prompt",
        ),
        ({"tools": [{"name": "s"}, {"name": "t"}]}, {"tools": [{"name": "t"}, {"name": "s"}]}, "tools"),
    ],
)
def test_a_reorder_of_an_identity_list_is_a_change(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str], base_doc: object, head_doc: object, layer: str
) -> None:
    """Item 6: swapping two entries of a fallback chain or of few-shot examples moves that layer."""
    other = "serving:\n  batch_size: 8\n"
    base = git_repo.commit({"agent.json": json.dumps(base_doc), "serving.yaml": other})
    head = git_repo.commit({"agent.json": json.dumps(head_doc), "serving.yaml": other.replace("8", "16")})
    doc = diff_json(git_repo, base, head, capsys)
    assert doc["layers_changed"] == sorted({layer, "infra"})
    assert check(git_repo, base) == 1


def test_adding_an_entry_is_not_a_reorder(git_repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    base = git_repo.commit({"a.json": json.dumps({"tools": [{"name": "s"}, {"name": "t"}]})})
    head = git_repo.commit({"a.json": json.dumps({"tools": [{"name": "s"}, {"name": "u"}, {"name": "t"}]})})
    changes = diff_json(git_repo, base, head, capsys)["changes"]
    assert [c["key"] for c in changes] == ["tools[name=u].name"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("app.json", '{"llm": {"model": "gpt-4.1"}, "llm": {"model": "gpt-4o"}}'),
        ("app.yaml", "llm:\n  model: gpt-4.1\nllm:\n  model: gpt-4o\n"),
        ("app.yaml", "1: a\n'1': b\n"),
        (".env", "LLM_MODEL=gpt-4.1\nLLM_MODEL=gpt-4o\n"),
    ],
)
def test_duplicate_keys_are_an_error_naming_file_and_line(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str], name: str, text: str
) -> None:
    """Item 7: a second ``llm`` would hide the first from us while other readers see it."""
    base = git_repo.commit({name: "x: 1\n" if name != ".env" else "X=1\n"})
    git_repo.commit({name: text})
    capsys.readouterr()
    assert check(git_repo, base) == 2
    err = capsys.readouterr().err
    assert f"{name}:" in err and "duplicate key" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_duplicate_keys_in_the_settings_are_an_error(git_repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    base = git_repo.commit({"rollout.yaml": "override:\n  allowed: false\noverride:\n  allowed: true\n"})
    capsys.readouterr()
    assert check(git_repo, base) == 2
    assert "rollout.yaml:3: not valid YAML: duplicate key 'override'" in capsys.readouterr().err


def lfs(oid: str) -> str:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid * 64}\nsize 1234\n"


@pytest.mark.parametrize(
    ("before", "after"),
    [(lfs("a"), lfs("b")), ('"just a string"\n', '"another"\n'), ("[1, 2]\n", "[2, 1]\n"), (APP, lfs("c"))],
)
def test_a_mapped_file_that_is_not_a_mapping_blocks(git_repo: GitRepo, before: str, after: str) -> None:
    """Item 8: a config stored as an LFS pointer (a scalar root) cannot be read key by key."""
    rollout = "layers:\n  model:\n    keys: ['config/app.yaml:llm.model']\n  prompt:\n    files: ['prompts/**']\n"
    base = git_repo.commit({"rollout.yaml": rollout, "config/app.yaml": before, "prompts/a.md": "x\n"})
    git_repo.commit({"config/app.yaml": after, "prompts/a.md": "y\n"})
    assert check(git_repo, base) == 1


def test_a_rollback_is_judged_and_said(git_repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    """Item 10: ``--base HEAD --head <older>`` judges what deploying the older head would undo."""
    old = git_repo.commit({"app.yaml": APP, "serving.yaml": "serving:\n  batch_size: 8\n"})
    git_repo.commit({"app.yaml": APP_MOVED, "serving.yaml": "serving:\n  batch_size: 16\n"})
    capsys.readouterr()
    assert check(git_repo, "HEAD", old) == 1
    out = capsys.readouterr()
    assert "rollback" in out.err and "model" in out.out and "infra" in out.out


def test_git_replace_does_not_change_what_is_judged(git_repo: GitRepo) -> None:
    """Item 11: a local ``git replace`` of the head commit must not hide its changes."""
    base = git_repo.commit({"app.yaml": APP, "serving.yaml": "serving:\n  batch_size: 8\n"})
    head = git_repo.commit({"app.yaml": APP_MOVED, "serving.yaml": "serving:\n  batch_size: 16\n"})
    fake = subprocess.run(
        ["git", "commit-tree", f"{base}^{{tree}}", "-p", base, "-m", "harmless"],
        cwd=git_repo.path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    subprocess.run(["git", "replace", head, fake], cwd=git_repo.path, check=True)
    assert check(git_repo, base) == 1


# --------------------------------------------------------------------------- bad input


BAD_YAML = {
    "a date that does not exist": "llm:\n  released: 2024-13-45\n",
    "a 5,000-digit integer": "llm:\n  seed: " + "1" * 5000 + "\n",
    "a 5,000-digit hex integer": "llm:\n  seed: 0x" + "f" * 5000 + "\n",
    "an hour past 23": "llm:\n  at: 2024-01-01 25:00:00\n",
    "an !!int that is not one": "llm:\n  seed: !!int x\n",
    "an !!timestamp that is not one": "llm:\n  at: !!timestamp x\n",
}


@pytest.mark.parametrize("text", BAD_YAML.values(), ids=BAD_YAML.keys())
@pytest.mark.parametrize("side", ["head", "base"])
def test_bad_yaml_values_are_one_line(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str], text: str, side: str
) -> None:
    """At head: exit 2 naming file:line. At base: a warning, so the PR that fixes it can pass."""
    if side == "head":
        base = git_repo.commit({"app.yaml": APP})
        git_repo.commit({"app.yaml": text})
    else:
        base = git_repo.commit({"app.yaml": text})
        git_repo.commit({"app.yaml": "llm:\n  model: gpt-4o\n"})
    capsys.readouterr()
    assert check(git_repo, base) == (2 if side == "head" else 0)
    err = capsys.readouterr().err
    assert ("app.yaml:2" if side == "head" else "app.yaml: cannot parse at base (line 2") in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("app.json", '{"seed": ' + "1" * 5000 + "}"),
        ("app.json", '{"llm": {"model": "\\ud800"}}'),
        ("app.json", '{"\\udfff": 1}'),
        ("app.toml", "seed = " + "1" * 5000 + "\n"),
        ("app.toml", "seed = 0x" + "f" * 5000 + "\n"),
    ],
)
def test_bad_json_and_toml_values_are_one_line(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str], name: str, text: str
) -> None:
    base = git_repo.commit({name: '{"seed": 1}' if name.endswith(".json") else "seed = 1\n"})
    git_repo.commit({name: text})
    capsys.readouterr()
    assert check(git_repo, base) == 2
    err = capsys.readouterr().err
    assert f"{name}:1:" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "rollout",
    [
        "base: 2024-13-45\n",
        "coupling:\n  max_layers_per_release: " + "9" * 5000 + "\n",
        "layers:\n  a:\n    files: [x]\n  a:\n    files: [y]\n",
    ],
)
@pytest.mark.parametrize("side", ["head", "base"])
def test_bad_settings_values_are_one_line(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str], rollout: str, side: str
) -> None:
    """In rollout.yaml, at head (the work tree: exit 2) and at base (judged by the defaults, settings changed)."""
    if side == "head":
        base = git_repo.commit({"app.yaml": APP})
        git_repo.commit({"rollout.yaml": rollout})
        expected = 2
    else:
        base = git_repo.commit({"rollout.yaml": rollout})
        git_repo.commit({"rollout.yaml": None})
        expected = 0
    capsys.readouterr()
    assert check(git_repo, base) == expected
    err = capsys.readouterr().err
    assert "rollout.yaml" in err and "Traceback" not in err


def test_pyproject_with_a_giant_integer_is_one_line(git_repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    base = git_repo.commit({"pyproject.toml": "[tool.pytest-rollout]\nstrict = false\n"})
    git_repo.commit({"pyproject.toml": "[tool.pytest-rollout]\nmax_file_size = " + "9" * 5000 + "\n"})
    capsys.readouterr()
    assert check(git_repo, base) == 2
    assert "pyproject.toml: not valid TOML" in capsys.readouterr().err


def test_a_repository_without_commits_names_the_right_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = GitRepo(tmp_path / "empty")
    assert main(["check", "--repo", str(repo.path), "--base", "main"]) == 2
    err = capsys.readouterr().err
    assert "has no commits yet" in err and "git fetch" not in err


# --------------------------------------------------------------------------- globs in linear time


def test_a_glob_with_several_double_stars_is_linear() -> None:
    """Backtracking over ``(?:.*/)?`` for each ``**`` took about a minute on this path; the NFA
    visits each path segment once per live pattern position (timed in benchmarks/bench_glob.py)."""
    glob = Glob("**/a/**/a/**/a/**/a/**/a/**/b")
    path = "/".join(["a"] * 3000) + "/c"
    assert glob.match(path) is False
    assert glob.match("/".join(["a"] * 3000) + "/b") is True
    assert name_match("*a*a*a*a*a*b", "a" * 5000) is False


@pytest.mark.parametrize(
    ("glob", "path", "hit"),
    [
        ("**", "a/b/c", True),
        ("**/**/x.yaml", "x.yaml", True),
        ("a/**/b/**/c", "a/b/c", True),
        ("a/**/b/**/c", "a/x/b/y/z/c", True),
        ("a/**/b/**/c", "a/x/c", False),
        ("prompts/**", "prompts", False),
        ("prompts/", "prompts", False),
        ("prompts/", "prompts/a", True),
        ("*.y?ml", "deep/er/app.yaml", True),
        ("**.yaml", "deep/app.yaml", True),
        ("[ab].yaml", "a.yaml", False),
        ("[ab].yaml", "[ab].yaml", True),
    ],
)
def test_glob_semantics(glob: str, path: str, hit: bool) -> None:
    assert compile_glob(glob).match(path) is hit


# --------------------------------------------------------------------------- output injection


def test_keys_and_paths_cannot_inject_lines(git_repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    """A YAML key with a newline must not print a ``::stop-commands::`` or a fake decision line."""
    evil = '"model\\n::stop-commands::x\\ndecision: PASS\\n\\u001b[2K"'
    base = git_repo.commit({"app.yaml": APP, "serving.yaml": "serving:\n  batch_size: 8\n"})
    git_repo.commit(
        {
            "app.yaml": f"llm:\n  model: gpt-4.1\n  {evil}: 1\n",
            "serving.yaml": "serving:\n  batch_size: 16\n",
            "prompts/x\n::error::y.md": "hi\n",
        }
    )
    capsys.readouterr()
    assert check(git_repo, base) == 1
    out = capsys.readouterr()
    lines = (out.out + out.err).splitlines()
    assert not any(line.lstrip().startswith("::stop-commands") for line in lines)
    assert not any(line.lstrip().startswith("::error::y") for line in lines)
    assert not any(line.strip() == "decision: PASS" for line in lines)
    assert "\x1b" not in out.out + out.err
    assert "\\n::stop-commands::x\\ndecision: PASS" in out.out


def test_grafts_do_not_change_the_window(git_repo: GitRepo) -> None:
    """Same class as item 11: ``.git/info/grafts`` rewrites parents, hence the merge-base."""
    base = git_repo.commit({"app.yaml": APP, "serving.yaml": "serving:\n  batch_size: 8\n"})
    middle = git_repo.commit({"app.yaml": APP_MOVED}, msg="model")
    head = git_repo.commit({"serving.yaml": "serving:\n  batch_size: 16\n"}, msg="infra")
    # Grafted, `middle` is a root and base's parent: merge-base(base, head) becomes `middle`,
    # and only the infra commit would be judged.
    (git_repo.path / ".git" / "info" / "grafts").write_text(f"{middle}\n{base} {middle}\n")
    seen = subprocess.run(["git", "merge-base", base, head], cwd=git_repo.path, capture_output=True, text=True)
    assert seen.stdout.strip() == middle  # plain git follows the graft
    assert check(git_repo, base, head) == 1
