"""Every README and docs/ block that is meant to work, works: settings validate, YAML parses, the
CLI examples exit as stated, and the Quickstart's test command is the one CI runs. The reference
names every option, ini key, setting, marker argument, CLI verb and JSON field, and every relative
link points at a file (and heading) that exists."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shlex
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import SEED_APP_BASE, SEED_SERVING_BASE, GitRepo, seed_head
from pytest_rollout.evals.markers import ALLOWED_EVAL_KWARGS
from pytest_rollout.settings import Settings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
REFERENCE = ROOT / "docs" / "reference.md"
BLOCK = re.compile(r"<!-- readme-test: ([\w-]+) -->\n```\w*\n(.*?)```", re.S)
TAGS = {"settings", "toml", "yaml", "pre-commit", "python", "quickstart", "cli-in-seed-repo"}
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _blocks(tag: str, files: list[Path] = DOCS) -> list[tuple[Path, str]]:
    found = [(f, body) for f in files for t, body in BLOCK.findall(f.read_text()) if t == tag]
    assert found, f"no block marked readme-test: {tag} in {', '.join(f.name for f in files)}"
    return found


def test_every_marked_block_has_a_check() -> None:
    used = {t for f in DOCS for t, _ in BLOCK.findall(f.read_text())}
    assert used <= TAGS, f"readme-test tags nobody checks: {sorted(used - TAGS)}"
    assert len(DOCS) >= 5, "README.md and docs/*.md (reference, recipes, statistics, architecture)"


def test_settings_example_validates() -> None:
    for _, body in _blocks("settings"):
        settings = Settings.model_validate(yaml.safe_load(body))
        assert settings.layers is not None and settings.layer_names[0] == "infra"


def test_pyproject_settings_example_validates() -> None:
    for _, body in _blocks("toml"):
        table = tomllib.loads(body)["tool"]["pytest-rollout"]
        assert Settings.model_validate(table).layers is not None


def test_yaml_recipes_parse() -> None:
    for path, body in _blocks("yaml"):
        assert isinstance(yaml.safe_load(body), dict), path.name


def test_github_recipes_fetch_the_whole_history() -> None:
    """A shallow clone fails closed: every checkout in a recipe asks for fetch-depth 0."""
    for path, body in _blocks("yaml"):
        for job in (yaml.safe_load(body).get("jobs") or {}).values():
            for step in job.get("steps", []):
                if str(step.get("uses", "")).startswith("actions/checkout"):
                    assert step.get("with", {}).get("fetch-depth") == 0, f"{path.name}: {step}"


def test_pre_commit_snippet_names_our_hook() -> None:
    ((_, body),) = _blocks("pre-commit")
    hooks = yaml.safe_load(body)["repos"][0]["hooks"]
    manifest = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"] for h in hooks} <= {h["id"] for h in manifest}


def test_python_examples_compile() -> None:
    for path, body in _blocks("python"):
        compile(body, path.name, "exec")


def test_quickstart_is_what_ci_runs() -> None:
    ((_, body),) = _blocks("quickstart", [ROOT / "README.md"])
    commands = [line.split("#")[0].strip() for line in body.splitlines() if line.strip()]
    assert commands == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in ci


def test_cli_examples_exit_as_stated(git_repo: GitRepo) -> None:
    git_repo.commit({"config/app.yaml": SEED_APP_BASE, "deploy/serving.yaml": SEED_SERVING_BASE}, "base")
    app, serving = seed_head()
    git_repo.commit({"config/app.yaml": app, "deploy/serving.yaml": serving}, "bundled deploy")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    ((_, body),) = _blocks("cli-in-seed-repo")
    for line in body.strip().splitlines():
        command, _, comment = line.partition("#")
        expected = int(re.match(r"\s*exit (\d+)", comment).group(1))  # type: ignore[union-attr]
        proc = subprocess.run(shlex.split(command), cwd=git_repo.path, capture_output=True, text=True, env=env)
        assert proc.returncode == expected, f"{command}: {proc.returncode}\n{proc.stdout}{proc.stderr}"
        if "--json" in command:
            assert '"layers_changed": [\n    "context",\n    "infra",\n    "model"\n  ]' in proc.stdout


# ------------------------------------------------------------ the reference cannot go stale


def _missing(names: set[str]) -> list[str]:
    text = REFERENCE.read_text()
    return sorted(n for n in names if not re.search(rf"`{re.escape(n)}(?![\w-])", text))


def test_reference_names_every_option_and_ini_key(pytester: pytest.Pytester) -> None:
    """Read from the plugin as pytest registers it (``pytest --help``), not from a list kept by hand."""
    help_text = pytester.runpytest("--help").stdout.str()
    options = set(re.findall(r"(--rollout-[a-z-]+)", help_text))
    ini_keys = set(re.findall(r"^\s+(rollout_[a-z_]+)", help_text, re.M))
    assert len(options) >= 15 and len(ini_keys) >= 10, help_text
    assert _missing(options) == [] and _missing(ini_keys) == []


def _fields(model: type[Any], prefix: str) -> set[str]:
    names: set[str] = set()
    hints = typing.get_type_hints(model)
    for name in (f.name for f in dataclasses.fields(model)):
        names.add(prefix + name)
        hint = hints[name]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            names |= _fields(hint, f"{prefix}{name}.")
    return names


def test_reference_names_every_setting() -> None:
    from pytest_rollout.settings import LayerRule

    names = _fields(Settings, "") | _fields(LayerRule, "layers.<name>.")
    assert {"coupling.groups", "override.trailer", "layers.<name>.keys"} <= names
    assert _missing(names) == []


def test_reference_names_every_eval_argument() -> None:
    assert _missing(set(ALLOWED_EVAL_KWARGS)) == []


def _verbs(parser: argparse.ArgumentParser, prefix: str) -> set[str]:
    found: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found |= {f"{prefix} {name}"} | _verbs(sub, f"{prefix} {name}")
    return found


def test_reference_names_every_cli_verb() -> None:
    from pytest_rollout.cli import build_parser

    verbs = _verbs(build_parser(), "pytest-rollout")
    assert "pytest-rollout baseline prune" in verbs
    text = REFERENCE.read_text()
    missing = [v for v in sorted(verbs) if not re.search(rf"`{re.escape(v)}( [^`]*)?`", text)]
    assert missing == []


def test_reference_names_every_json_field() -> None:
    from pytest_rollout.report import report_schema

    schema: dict[str, Any] = json.loads(report_schema())
    names = set(schema["properties"])
    for model in schema["$defs"].values():
        names |= set(model["properties"])
    assert {"layers_changed", "holm_p", "shared_files"} <= names
    assert _missing(names) == []


# ------------------------------------------------------------------------ links


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    prose = FENCE.sub("", path.read_text())
    return {_slug(m) for m in re.findall(r"^#{1,6} (.+)$", prose, re.M)}


def test_relative_links_point_at_existing_files_and_headings() -> None:
    broken = []
    for doc in DOCS:
        for target in LINK.findall(FENCE.sub("", doc.read_text())):
            if re.match(r"^[a-z]+:", target):
                continue  # https:, mailto:
            file_part, _, anchor = target.partition("#")
            path = (doc.parent / file_part).resolve() if file_part else doc
            if not path.exists():
                broken.append(f"{doc.name}: {target} (no such file)")
            elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
                broken.append(f"{doc.name}: {target} (no such heading)")
    assert broken == []


def test_slug_matches_githubs() -> None:
    assert _slug("Settings (`rollout.yaml`)") == "settings-rolloutyaml"
    assert _slug("`pass_rate`: Wald's SPRT in counts") == "pass_rate-walds-sprt-in-counts"


# ------------------------------------------------------------------ figures


def test_budget_table_is_what_the_command_prints() -> None:
    """docs/statistics.md's budget table is `benchmarks/budget_table.py`'s output (exact DP, no simulation)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("budget_table", ROOT / "benchmarks" / "budget_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = (ROOT / "docs" / "statistics.md").read_text()
    missing = [row for row in module.rows(0.05, 0.05) if row not in text]
    assert missing == []


def test_code_cites_shipped_docs_only() -> None:
    """Comments point at docs/, which ships with the project, not at notes that do not."""
    unshipped = re.compile(r"\b(STATISTICS|DESIGN|STYLE|ARCHITECTURE-REVIEW)\.md\b")
    cited = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in (ROOT / "pytest_rollout").rglob("*.py")
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if unshipped.search(line)
    ]
    assert cited == []
    for p in (ROOT / "pytest_rollout").rglob("*.py"):
        for doc in re.findall(r"docs/(\w+\.md)", p.read_text()):
            assert (ROOT / "docs" / doc).is_file(), f"{p.relative_to(ROOT)} cites docs/{doc}"
