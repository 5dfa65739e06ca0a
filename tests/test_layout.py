"""The package's shape: the stages import only what their place in the data flow allows, and the wheel ships it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pytest_rollout"


def _modules(*stages: str) -> list[str]:
    names = []
    for stage in stages:
        for path in sorted((PACKAGE / stage).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            names.append(".".join(parts))
    return names


def _loaded_after_import(modules: list[str]) -> set[str]:
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out))


def test_diff_and_gate_never_load_pytest_or_scipy() -> None:
    """The pre-push path runs diff/ and gate/: neither may pull in the test runner or the numerics."""
    loaded = _loaded_after_import(_modules("diff", "gate"))
    assert not loaded & {"pytest", "_pytest", "scipy", "numpy"}


def test_every_stage_has_a_docstring_saying_what_it_owns() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8").lstrip()
        assert text.startswith('"""'), f"{path.relative_to(ROOT)} has no module docstring"


def test_the_wheel_ships_the_package_the_entry_points_and_py_typed(tmp_path: Path) -> None:
    # Built from a copy: setuptools reuses an in-tree build/ folder, whose stale modules would ship.
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(PACKAGE, source / "pytest_rollout", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("pytest_rollout-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(zf.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    expected = {str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py")} | {"pytest_rollout/py.typed"}
    shipped = {n for n in names if n.startswith("pytest_rollout/")}
    assert shipped == expected
    assert not any(n.startswith(("tests/", "example_repo/", "benchmarks/", "scripts/")) for n in names)
    assert "rollout = pytest_rollout.plugin" in entry_points
    assert "pytest-rollout = pytest_rollout.cli:main" in entry_points
