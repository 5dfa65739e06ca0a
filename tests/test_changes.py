"""changes: the semantic diff between two commits, against real git repositories."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import SEED_APP_BASE, SEED_SERVING_BASE, GitRepo, seed_head
from pytest_rollout.diff import git as gitio
from pytest_rollout.diff.changes import DiffOutput, RawChange, diff_commits, diff_values, read_tree_configs, same_value
from pytest_rollout.diff.formats import KeyPath, Parsed, format_key
from pytest_rollout.errors import ConfigParseError, GitError

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
Row = tuple[str, "str | None", str, Any, Any]


def everything(path: str) -> bool:
    return True


def diff(repo: GitRepo, base: str, head: str, watched: Callable[[str], bool] = everything, **kw: Any) -> DiffOutput:
    return diff_commits(repo.path, base, head, watched, **kw)


def rows(out: DiffOutput) -> list[Row]:
    return [(c.path, None if c.key is None else format_key(c.key), c.kind, c.old, c.new) for c in out.changes]


def only(out: DiffOutput) -> RawChange:
    assert len(out.changes) == 1, rows(out)
    return out.changes[0]


def sha7(repo: GitRepo, rev: str, path: str) -> str:
    return str(repo.repo.git.rev_parse(f"{rev}:{path}"))[:7]


# --------------------------------------------------------------------------- keys


def test_seed_incident_moves_three_keys(git_repo: GitRepo) -> None:
    base = git_repo.commit({"config/app.yaml": SEED_APP_BASE, "deploy/serving.yaml": SEED_SERVING_BASE})
    app, serving = seed_head()
    head = git_repo.commit({"config/app.yaml": app, "deploy/serving.yaml": serving})
    out = diff(git_repo, base, head)
    assert rows(out) == [
        ("config/app.yaml", "llm.context_window", "modified", 8192, 32768),
        ("config/app.yaml", "llm.model", "modified", "gpt-4-turbo-preview", "gpt-4o"),
        ("deploy/serving.yaml", "serving.batch_size", "modified", 8, 32),
    ]
    assert [c.line for c in out.changes] == [8, 4, 2]
    assert out.warnings == []


@pytest.mark.parametrize(
    ("path", "before", "after"),
    [
        (
            "a.yaml",
            "llm:\n  model: m\n  t: 0.2\nlist: [1, 2]\n",
            "# reformatted\nlist:\n    - 1\n    - 2   # two\nllm: {t: 0.20, \"model\": 'm'}\n",
        ),
        ("a.json", '{"llm": {"model": "m", "t": 0.2}}', '{\n  "llm": {\n    "t": 0.20,\n    "model": "m"\n  }\n}\n'),
        ("a.toml", 'llm.model = "m"\nllm.t = 0.2\n', "# comment\n[llm]\nt = 0.20\nmodel = 'm'\n"),
        (".env", "A=1\nB='x'\n", '# comment\nexport B="x"\n\nA=1 # one\n'),
    ],
)
def test_reformat_reorder_recomment_is_no_change(git_repo: GitRepo, path: str, before: str, after: str) -> None:
    base = git_repo.commit({path: before})
    head = git_repo.commit({path: after})
    assert diff(git_repo, base, head).changes == []


def test_identity_matched_insert_is_only_the_new_element(git_repo: GitRepo) -> None:
    tools = "tools:\n" + "".join(f"  - name: {n}\n    description: {n} tool\n" for n in ("search", "calc", "mail"))
    base = git_repo.commit({"tools.yaml": tools})
    inserted = tools.replace("  - name: calc", "  - name: code\n    description: run code\n  - name: calc")
    head = git_repo.commit({"tools.yaml": inserted})
    out = diff(git_repo, base, head)
    assert rows(out) == [
        ("tools.yaml", "tools[name=code].description", "added", None, "run code"),
        ("tools.yaml", "tools[name=code].name", "added", None, "code"),
    ]
    assert [c.line for c in out.changes] == [5, 4]


def test_added_modified_deleted_keys_with_lines(git_repo: GitRepo) -> None:
    base = git_repo.commit({"a.yaml": "keep: 1\ngone: x\nchange: 1\n"})
    head = git_repo.commit({"a.yaml": "keep: 1\nchange: 2\nnew:\n  nested: true\n"})
    out = diff(git_repo, base, head)
    assert rows(out) == [
        ("a.yaml", "change", "modified", 1, 2),
        ("a.yaml", "gone", "deleted", "x", None),
        ("a.yaml", "new.nested", "added", None, True),
    ]
    assert [c.line for c in out.changes] == [2, 2, 4]  # the deletion's line is in the base file


@pytest.mark.parametrize(
    ("before", "after", "changed"),
    [
        ("v: '8'", "v: 8", True),
        ("v: 1", "v: true", True),
        ("v: 1", "v: 1.0", True),
        ("v: 1.0", "v: 1.00", False),
        ("v: [1, 2]", "v: [2, 1]", True),
        ("v: [1]", "v: [true]", True),
        ("v: null", "v: ''", True),
        ("v: {}", "v: []", True),
    ],
)
def test_a_changed_type_is_a_change(git_repo: GitRepo, before: str, after: str, changed: bool) -> None:
    base = git_repo.commit({"a.yaml": before + "\n"})
    head = git_repo.commit({"a.yaml": after + "\n"})
    assert bool(diff(git_repo, base, head).changes) is changed


def test_added_and_deleted_structured_files_are_per_key(git_repo: GitRepo) -> None:
    base = git_repo.commit({"old.json": '{"a": 1,\n "b": [1]}', "keep.txt": "x\n"})
    head = git_repo.commit({"old.json": None, "new.toml": "x = 1\n[t]\ny = 'z'\n"})
    out = diff(git_repo, base, head)
    assert rows(out) == [
        ("new.toml", "t.y", "added", None, "z"),
        ("new.toml", "x", "added", None, 1),
        ("old.json", "a", "deleted", 1, None),
        ("old.json", "b", "deleted", [1], None),
    ]
    assert [c.line for c in out.changes] == [3, 1, 1, 2]


def test_empty_structured_file_added_or_deleted_is_whole_file(git_repo: GitRepo) -> None:
    base = git_repo.commit({"keep.txt": "x\n", "gone.yaml": "# nothing\n"})
    head = git_repo.commit({"new.yaml": "", "gone.yaml": None})
    out = diff(git_repo, base, head)
    assert rows(out) == [
        ("gone.yaml", None, "deleted", f"{sha7(git_repo, base, 'gone.yaml')} (1 line)", None),
        ("new.yaml", None, "added", None, f"{sha7(git_repo, head, 'new.yaml')} (0 lines)"),
    ]
    assert all(c.line == 1 for c in out.changes)


def test_diff_from_the_empty_tree(git_repo: GitRepo) -> None:
    head = git_repo.commit({"a.yaml": "x: 1\n"})
    assert rows(diff(git_repo, EMPTY_TREE, head)) == [("a.yaml", "x", "added", None, 1)]


def test_multi_document_yaml(git_repo: GitRepo) -> None:
    docs = "kind: Deployment\nname: api\nreplicas: 2\n---\nkind: Service\nname: svc\n"
    base = git_repo.commit({"k8s.yaml": docs})
    head = git_repo.commit({"k8s.yaml": "kind: Service\nname: svc\n---\n" + docs.split("---\n")[0].replace("2", "3")})
    assert rows(diff(git_repo, base, head)) == [("k8s.yaml", "[name=api].replicas", "modified", 2, 3)]


# --------------------------------------------------------------------------- whole files


def test_unstructured_files_are_whole_file_changes(git_repo: GitRepo) -> None:
    base = git_repo.commit({"prompts/system.txt": "You are helpful.\n", "prompts/old.j2": "{{ x }}\n"})
    head = git_repo.commit(
        {"prompts/system.txt": "You are helpful.\nBe brief.", "prompts/old.j2": None, "prompts/new.md": "# hi\n"}
    )
    out = diff(git_repo, base, head)
    assert rows(out) == [
        ("prompts/new.md", None, "added", None, f"{sha7(git_repo, head, 'prompts/new.md')} (1 line)"),
        ("prompts/old.j2", None, "deleted", f"{sha7(git_repo, base, 'prompts/old.j2')} (1 line)", None),
        (
            "prompts/system.txt",
            None,
            "modified",
            f"{sha7(git_repo, base, 'prompts/system.txt')} (1 line)",
            f"{sha7(git_repo, head, 'prompts/system.txt')} (2 lines)",
        ),
    ]


def test_binary_files_are_described_not_parsed(git_repo: GitRepo) -> None:
    base = git_repo.commit({"keep.txt": "x\n"})
    head = git_repo.commit({"model.bin": b"\x00\x01\x02", "weird.yaml": b"a: \x00 not yaml"})
    assert rows(diff(git_repo, base, head)) == [
        ("model.bin", None, "added", None, f"{sha7(git_repo, head, 'model.bin')} (binary, 3 bytes)"),
        ("weird.yaml", None, "added", None, f"{sha7(git_repo, head, 'weird.yaml')} (binary, 13 bytes)"),
    ]


def test_oversize_files_are_never_parsed(git_repo: GitRepo) -> None:
    base = git_repo.commit({"big.yaml": "a: 1\n" + "# pad\n" * 20})
    head = git_repo.commit({"big.yaml": "a: [unclosed\n" + "# pad\n" * 20})  # malformed, but over the cap
    change = only(diff(git_repo, base, head, max_bytes=64))
    assert (change.key, change.kind) == (None, "modified")
    assert change.old == f"{sha7(git_repo, base, 'big.yaml')} (125 bytes, over 64-byte cap, not parsed)"
    assert change.new.endswith("(133 bytes, over 64-byte cap, not parsed)")


def test_mode_only_change_is_no_change(git_repo: GitRepo) -> None:
    base = git_repo.commit({"prompts/run.sh": "echo hi\n", "a.yaml": "x: 1\n"})
    os.chmod(git_repo.path / "prompts/run.sh", 0o755)
    os.chmod(git_repo.path / "a.yaml", 0o755)
    head = git_repo.commit()
    assert diff(git_repo, base, head).changes == []


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("path", "bad", "line"),
    [
        ("config/app.yaml", "llm:\n  model: x\n   temperature: 1\n", 3),
        ("tools/t.json", '{\n  "a": 1\n  "b": 2\n}\n', 3),
        ("pyproject.toml", "[tool]\nx = \n", 2),
        ("deploy/.env", "A=1\nnot an assignment\n", 2),
    ],
)
def test_malformed_at_head_fails_closed_with_file_and_line(git_repo: GitRepo, path: str, bad: str, line: int) -> None:
    base = git_repo.commit({path: "", "keep.txt": "x\n"})
    head = git_repo.commit({path: bad})
    with pytest.raises(ConfigParseError) as info:
        diff(git_repo, base, head)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: ") and message.endswith("fix the file or revert it")


def test_malformed_added_file_fails_closed(git_repo: GitRepo) -> None:
    base = git_repo.commit({"keep.txt": "x\n"})
    head = git_repo.commit({"new.yaml": "a: [1\n"})
    with pytest.raises(ConfigParseError, match=r"^new\.yaml:2: "):
        diff(git_repo, base, head)


def test_malformed_at_base_warns_and_changes_the_whole_file(git_repo: GitRepo) -> None:
    base = git_repo.commit({"config/app.yaml": "llm:\n  model: x\n   temperature: 1\n"})
    head = git_repo.commit({"config/app.yaml": "llm:\n  model: x\n  temperature: 1\n"})
    out = diff(git_repo, base, head)
    assert [(c.path, c.key, c.kind, c.old, c.new, c.line) for c in out.changes] == [
        ("config/app.yaml", ("llm", "model"), "modified", "(unreadable at base)", "x", 2),
        ("config/app.yaml", ("llm", "temperature"), "modified", "(unreadable at base)", 1, 3),
    ]
    assert out.warnings == [
        "config/app.yaml: cannot parse at base (line 3: mapping values are not allowed in this context); "
        "its keys at base are unknown"
    ]


def test_malformed_file_deleted_warns_and_deletes_whole_file(git_repo: GitRepo) -> None:
    base = git_repo.commit({"a.json": "{oops", "keep.txt": "x\n"})
    head = git_repo.commit({"a.json": None})
    out = diff(git_repo, base, head)
    assert (only(out).key, only(out).kind) == (None, "deleted")
    assert out.warnings and out.warnings[0].startswith("a.json: cannot parse at base (line 1: ")


def test_non_utf8_at_head_fails_closed_and_at_base_warns(git_repo: GitRepo) -> None:
    good = git_repo.commit({"a.yaml": "name: cafe\n"})
    bad = git_repo.commit({"a.yaml": b"name: caf\xe9\n"})
    with pytest.raises(ConfigParseError, match=r"^a\.yaml:1: not UTF-8 text \(byte 0xe9 at offset 9\); fix"):
        diff(git_repo, good, bad)
    fixed = git_repo.commit({"a.yaml": "name: café\n"})
    out = diff(git_repo, bad, fixed)
    assert (only(out).key, only(out).old) == (("name",), "(unreadable at base)")
    assert out.warnings == [
        "a.yaml: cannot parse at base (line 1: not UTF-8 text (byte 0xe9 at offset 9)); its keys at base are unknown"
    ]


def test_alias_bomb_at_head_is_refused(git_repo: GitRepo) -> None:
    from test_parsers import BILLION_LAUGHS

    base = git_repo.commit({"keep.txt": "x\n"})
    head = git_repo.commit({"bomb.yaml": BILLION_LAUGHS})
    with pytest.raises(ConfigParseError, match="too many YAML aliases"):
        diff(git_repo, base, head)


# --------------------------------------------------------------------------- links, submodules, shapes


def test_symlinks_are_compared_as_targets_and_never_followed(git_repo: GitRepo) -> None:
    base = git_repo.commit({"keep.txt": "x\n"})
    (git_repo.path / "config").mkdir()
    os.symlink("/etc/passwd", git_repo.path / "config/app.yaml")  # a target outside the repo must not be read
    added = git_repo.commit()
    os.unlink(git_repo.path / "config/app.yaml")
    os.symlink("../does/not/exist.yaml", git_repo.path / "config/app.yaml")
    retargeted = git_repo.commit()
    assert rows(diff(git_repo, base, added)) == [("config/app.yaml", None, "added", None, "-> /etc/passwd")]
    assert rows(diff(git_repo, added, retargeted)) == [
        ("config/app.yaml", None, "modified", "-> /etc/passwd", "-> ../does/not/exist.yaml")
    ]


def test_file_turned_symlink_is_a_whole_file_type_change(git_repo: GitRepo) -> None:
    base = git_repo.commit({"config/app.yaml": "a: 1\nb: 2\n", "config/real.yaml": "a: 1\n"})
    os.unlink(git_repo.path / "config/app.yaml")
    os.symlink("real.yaml", git_repo.path / "config/app.yaml")
    head = git_repo.commit()
    assert rows(diff(git_repo, base, head)) == [
        ("config/app.yaml", None, "modified", f"{sha7(git_repo, base, 'config/app.yaml')} (2 lines)", "-> real.yaml")
    ]


def test_submodule_pointer_change(git_repo: GitRepo, tmp_path: Path) -> None:
    sub = GitRepo(tmp_path / "sub")
    first = sub.commit({"README": "one\n"})
    second = sub.commit({"README": "two\n"})
    base = git_repo.commit({"keep.txt": "x\n"})
    git_repo.repo.git.execute(
        ["git", "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub.path), "vendor/models"]
    )
    subprocess.run(["git", "-C", str(git_repo.path / "vendor/models"), "checkout", "-q", first], check=True)
    added = git_repo.commit()
    subprocess.run(["git", "-C", str(git_repo.path / "vendor/models"), "checkout", "-q", second], check=True)
    moved = git_repo.commit()
    assert ("vendor/models", None, "added", None, first) in rows(diff(git_repo, base, added))
    assert rows(diff(git_repo, added, moved)) == [("vendor/models", None, "modified", first, second)]


def test_yaml_file_turned_directory(git_repo: GitRepo) -> None:
    base = git_repo.commit({"config.yaml": "llm:\n  model: a\n"})
    head = git_repo.commit({"config.yaml": None, "config.yaml/llm.yaml": "model: b\n"})
    assert rows(diff(git_repo, base, head)) == [
        ("config.yaml", "llm.model", "deleted", "a", None),
        ("config.yaml/llm.yaml", "model", "added", None, "b"),
    ]


# --------------------------------------------------------------------------- renames and paths

LONG_YAML = "".join(f"key_{i}: value {i}\n" for i in range(20))


def test_rename_without_edits_is_one_whole_file_change(git_repo: GitRepo) -> None:
    base = git_repo.commit({"config/old.yaml": LONG_YAML})
    head = git_repo.commit({"config/old.yaml": None, "config/new.yaml": LONG_YAML})
    change = only(diff(git_repo, base, head))
    old, new = "config/old.yaml", "config/new.yaml"
    assert change == RawChange(new, None, "renamed", old, new, old_path=old, line=1)


def test_rename_with_edits_adds_key_changes(git_repo: GitRepo) -> None:
    base = git_repo.commit({"config/old.yaml": LONG_YAML})
    edited = LONG_YAML.replace("value 3\n", "value three\n")
    head = git_repo.commit({"config/old.yaml": None, "config/new.yaml": edited})
    out = diff(git_repo, base, head)
    assert rows(out) == [
        ("config/new.yaml", None, "renamed", "config/old.yaml", "config/new.yaml"),
        ("config/new.yaml", "key_3", "modified", "value 3", "value three"),
    ]
    assert all(c.old_path == "config/old.yaml" for c in out.changes)
    assert out.changes[1].line == 4


def test_rename_of_a_prompt_carries_descriptors(git_repo: GitRepo) -> None:
    text = "".join(f"line {i}\n" for i in range(20))
    base = git_repo.commit({"prompts/a.txt": text})
    head = git_repo.commit({"prompts/a.txt": None, "prompts/b.txt": text + "one more\n"})
    change = only(diff(git_repo, base, head))
    assert (change.kind, change.path, change.old_path) == ("renamed", "prompts/b.txt", "prompts/a.txt")
    assert change.old.endswith("(20 lines)") and change.new.endswith("(21 lines)")


def test_rename_into_a_watched_path_is_seen(git_repo: GitRepo) -> None:
    base = git_repo.commit({"drafts/p.txt": LONG_YAML})
    head = git_repo.commit({"drafts/p.txt": None, "prompts/p.txt": LONG_YAML})
    change = only(diff(git_repo, base, head, lambda p: p.startswith("prompts/")))
    assert (change.kind, change.old_path) == ("renamed", "drafts/p.txt")


def test_paths_with_spaces_and_non_ascii_round_trip(git_repo: GitRepo) -> None:
    base = git_repo.commit({"config/my app é.yaml": "modèle: a\n", "prompts/système prompt.txt": "a\n"})
    head = git_repo.commit({"config/my app é.yaml": "modèle: b\n", "prompts/système prompt.txt": "b\n"})
    out = diff(git_repo, base, head)
    assert [(c.path, c.key) for c in out.changes] == [
        ("config/my app é.yaml", ("modèle",)),
        ("prompts/système prompt.txt", None),
    ]


def test_only_changed_paths_are_consulted_and_unwatched_ignored(git_repo: GitRepo) -> None:
    files: dict[str, str | bytes | None] = {f"src/mod{i}.py": f"x = {i}\n" for i in range(30)}
    files.update({"config/app.yaml": "a: 1\n", "config/other.yaml": "b: 1\n"})
    base = git_repo.commit(files)
    head = git_repo.commit({"config/app.yaml": "a: 2\n", "src/mod3.py": "x = 33\n"})
    asked: list[str] = []

    def watched(path: str) -> bool:
        asked.append(path)
        return path.startswith("config/")

    assert rows(diff(git_repo, base, head, watched)) == [("config/app.yaml", "a", "modified", 1, 2)]
    assert sorted(asked) == ["config/app.yaml", "src/mod3.py"]


def test_output_order_is_deterministic(git_repo: GitRepo) -> None:
    base = git_repo.commit({"b.yaml": "z: 1\na: 1\n", "a.yaml": "y: 1\n"})
    head = git_repo.commit({"b.yaml": "z: 2\na: 2\n", "a.yaml": "y: 2\n", "a.txt": "new\n"})
    keys = [(c.path, c.key) for c in diff(git_repo, base, head).changes]
    assert keys == [("a.txt", None), ("a.yaml", ("y",)), ("b.yaml", ("a",)), ("b.yaml", ("z",))]


def test_unknown_commit_is_a_git_error(git_repo: GitRepo) -> None:
    head = git_repo.commit({"a.yaml": "x: 1\n"})
    with pytest.raises(GitError):
        diff(git_repo, "0" * 39 + "1", head)


# --------------------------------------------------------------------------- pure helpers


def test_raw_diff_format_copies_type_changes_and_unknown_statuses() -> None:
    from pytest_rollout.diff.changes import _parse_raw_diff

    z = "0" * 40
    out = (
        f":100644 100644 {'a' * 40} {'b' * 40} C075\0src.yaml\0copy of.yaml\0"
        f":100644 120000 {'c' * 40} {'d' * 40} T\0link.yaml\0"
        f":000000 160000 {z} {'e' * 40} A\0vendor/sub\0"
    ).encode()
    copy, typechange, submodule = _parse_raw_diff(out)
    assert (copy.status, copy.old, copy.new and copy.new.path) == ("C", None, "copy of.yaml")
    assert typechange.old is not None and typechange.new is not None
    assert (typechange.old.mode, typechange.new.mode) == ("100644", "120000")
    assert (submodule.new and submodule.new.mode, submodule.old) == ("160000", None)
    with pytest.raises(GitError, match="unexpected git diff-tree entry 'U'"):
        _parse_raw_diff(f":100644 100644 {z} {z} U\0conflict.yaml\0".encode())


def test_diff_values_kinds_and_typed_equality() -> None:
    old: dict[KeyPath, Any] = {("a",): 1, ("b",): [1, 2], ("c",): "x", ("f",): float("nan")}
    new: dict[KeyPath, Any] = {("a",): True, ("b",): [1, 2], ("d",): None, ("f",): float("nan")}
    assert diff_values(old, new) == [
        (("a",), "modified", 1, True),
        (("c",), "deleted", "x", None),
        (("d",), "added", None, None),
    ]
    assert same_value({"k": [1.0]}, {"k": [1.00]}) and not same_value({"k": [1]}, {"k": [1.0]})


# --------------------------------------------------------------------------- one commit, and the blob reader


def test_read_tree_configs(git_repo: GitRepo) -> None:
    files: dict[str, str | bytes | None] = {"config/app.yaml": "a: 1\n", "prompts/p.txt": "hi\n", "src/x.py": ""}
    git_repo.write({**files, "config/big.json": "[" + "1," * 100 + "1]"})
    os.symlink("app.yaml", git_repo.path / "config/link.yaml")
    head = git_repo.commit()
    got = read_tree_configs(git_repo.path, head, lambda p: not p.endswith(".py"), max_bytes=100)
    assert got["config/app.yaml"] == Parsed({("a",): 1}, {("a",): 1})
    assert got["prompts/p.txt"] == git_repo.repo.git.rev_parse(f"{head}:prompts/p.txt")
    assert got["config/big.json"] == git_repo.repo.git.rev_parse(f"{head}:config/big.json")  # over the cap
    assert got["config/link.yaml"] == git_repo.repo.git.rev_parse(f"{head}:config/link.yaml")
    assert set(got) == {"config/app.yaml", "prompts/p.txt", "config/big.json", "config/link.yaml"}


def test_read_tree_configs_fails_closed_on_malformed(git_repo: GitRepo) -> None:
    head = git_repo.commit({"a.yaml": "a: [1\n", "bin.json": b"\x00\x01"})
    with pytest.raises(ConfigParseError, match=r"^a\.yaml:2: .*fix the file or revert it"):
        read_tree_configs(git_repo.path, head, everything)
    assert read_tree_configs(git_repo.path, head, lambda p: p != "a.yaml") == {
        "bin.json": git_repo.repo.git.rev_parse(f"{head}:bin.json")  # binary: fingerprinted by its blob
    }


def test_read_blobs_streams_past_oversize_and_reports_missing(git_repo: GitRepo) -> None:
    head = git_repo.commit({"small": "abc\n", "large": "x" * 100_000})
    small = git_repo.repo.git.rev_parse(f"{head}:small")
    large = git_repo.repo.git.rev_parse(f"{head}:large")
    missing = "1" * 40
    got = gitio.read_blobs(git_repo.path, [large, small, missing, small], max_bytes=10)
    assert got[small].data == b"abc\n" and got[small].type == "blob"
    assert got[large].data is None and got[large].size == 100_000
    assert got[missing].sha is None
    assert got[small] == gitio.read_blobs(git_repo.path, [small], max_bytes=10)[small]
    assert gitio.read_blobs(git_repo.path, [large])[large].data == b"x" * 100_000  # no cap: all of it


def test_tree_entries_reads_modes_and_shas_of_many_trees_at_once(git_repo: GitRepo) -> None:
    head = git_repo.commit({"a.yaml": "a: 1\n", "ci/gate.yaml": "b: 2\n"})
    got = gitio.tree_entries(git_repo.path, [f"{head}:", f"{head}:ci", f"{head}:nope", f"{head}:a.yaml"])
    root, ci = got[f"{head}:"], got[f"{head}:ci"]
    assert root is not None and ci is not None
    assert root["a.yaml"] == ("100644", git_repo.repo.git.rev_parse(f"{head}:a.yaml"))
    assert root["ci"][0] == "040000" and ci["gate.yaml"][1] == git_repo.repo.git.rev_parse(f"{head}:ci/gate.yaml")
    assert got[f"{head}:nope"] is None and got[f"{head}:a.yaml"] is None  # missing, not a tree


def test_read_blobs_in_a_non_repository_is_a_git_error(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="cat-file"):
        gitio.read_blobs(tmp_path, ["1" * 40], max_bytes=10)
