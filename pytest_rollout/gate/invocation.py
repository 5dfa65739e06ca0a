"""Which repository a pytest session judges, and which of its options the release itself chose.

pytest's rootdir is computed from every path-like argument (an existing ``--rollout-store`` or
``--rollout-report`` file moves it) before plugin options are known, and the release's own ini
(``addopts``) is read like the command line. Neither may decide what is judged: the repository
is found from the invocation folder (or the first test path given), and the options that name
the window or let a bundle through count only from the command line or ``PYTEST_ADDOPTS``.
Nothing here imports pytest.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

#: Options a release must not give itself through a file it changes (its ini's ``addopts``).
WINDOW_FLAGS: tuple[str, ...] = ("--rollout-base", "--rollout-head", "--rollout-allow-bundle", "--rollout-deployed")

PYTEST_REPO_FIX = "run pytest from inside the clone, or name a test path inside it (pytest has no --repo option)"


def repo_start(invocation_dir: Path, test_paths: Sequence[str]) -> Path:
    """The folder the repository is found from: the first given test path that exists
    (``tests/test_x.py::test_y`` counts as its file), else the folder pytest was started in."""
    for arg in test_paths:
        name = arg.split("::", 1)[0]
        if not name or name.startswith("-"):
            continue
        path = Path(name) if Path(name).is_absolute() else invocation_dir / name
        if path.exists():
            return path if path.is_dir() else path.parent
    return invocation_dir


def find_repository(start: Path) -> Path:
    """The root of the work tree containing ``start``, with an error in pytest's terms."""
    from pytest_rollout.diff.refs import repo_root

    return repo_root(start, fix=PYTEST_REPO_FIX)


def from_ini(given: Sequence[str], invocation_args: Sequence[str], env_addopts: str) -> list[str]:
    """Of the flags ``given`` (set on the parsed options), those that came neither from the command
    line nor from ``PYTEST_ADDOPTS``: they came from an ini file's ``addopts``."""
    try:
        env_args = shlex.split(env_addopts)
    except ValueError:
        env_args = env_addopts.split()
    tokens = [*invocation_args, *env_args]
    return [flag for flag in given if not any(flag in token for token in tokens)]


def resolve_option_path(value: str, invocation_dir: Path) -> str:
    """A path given on the command line, relative to where pytest was started (never the rootdir)."""
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else invocation_dir / path)
